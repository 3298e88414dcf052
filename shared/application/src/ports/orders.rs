//! Orders, stored in their user's collection.

use super::{Cursor, Outgoing, Page, PageError, PageLimit, RepositoryError};
use domain::{Order, OrderId, UserId};
use std::future::Future;

pub trait OrderRepository: Send + Sync + 'static {
    /// Stores a new order in its user's collection and records `outbox`, in one atomic write.
    fn insert(
        &self,
        order: &Order,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// The order with this id among this user's orders; `None` when there is none, including
    /// when the id belongs to another user's order.
    fn find(
        &self,
        user_id: UserId,
        order_id: OrderId,
    ) -> impl Future<Output = Result<Option<Order>, RepositoryError>> + Send;

    /// One page of the user's orders, newest first, with the paging contract of
    /// `UserRepository::list`; a cursor issued for another user MUST be `InvalidCursor`.
    fn list(
        &self,
        user_id: UserId,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<Page<Order>, PageError>> + Send;
}
