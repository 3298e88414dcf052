//! The use cases of the Orders API, one per route.

mod get;
mod list;
mod place;

pub use get::{GetOrder, GetOrderError, OrderLookup};
pub use list::{ListUserOrders, ListUserOrdersError, UserOrdersQuery};
pub use place::{PlaceOrder, PlaceOrderError, PlacementRequest};

use crate::ports::{RepositoryError, UserRepository};
use domain::{User, UserId};

/// The user whose orders these are: `None` when unknown or deleted, as both read "no such user".
async fn order_owner<R: UserRepository>(
    users: &R,
    id: UserId,
) -> Result<Option<User>, RepositoryError> {
    Ok(users.find(id).await?.filter(|user| !user.is_deleted()))
}
