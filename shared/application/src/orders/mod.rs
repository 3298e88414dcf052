//! The use cases of the Orders API, one per route.

mod get;
mod list;
mod place;

pub use get::{GetOrder, GetOrderError, OrderLookup};
pub use list::{ListUserOrders, ListUserOrdersError, UserOrdersQuery};
pub use place::{PlaceOrder, PlaceOrderError, PlacementRequest};

use crate::ports::{RepositoryError, UserRepository};
use crate::standing::read_for;
use crate::{Caller, Denied, Policy};
use domain::{User, UserId};

/// The user whose orders these are, read for `caller` (see `standing`): `None` when unknown
/// or deleted, as both read "no such user".
async fn order_owner<R, E>(users: &R, caller: &Caller, id: UserId) -> Result<Option<User>, E>
where
    R: UserRepository,
    E: From<Denied> + From<RepositoryError>,
{
    let owner = read_for::<R, E>(users, caller, Policy::SelfOrAdmin, Some(id)).await?;
    Ok(owner.filter(|user| !user.is_deleted()))
}
