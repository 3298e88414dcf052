use super::order_owner;
use crate::ports::{OrderRepository, RepositoryError, UserRepository};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{Order, OrderId, UserId};
use futures::future::try_join;

/// One order of one user.
#[derive(Debug, Clone)]
pub struct OrderLookup {
    pub user_id: UserId,
    pub order_id: OrderId,
}

command!(OrderLookup => Order, GetOrderError; subject = user_id);

#[derive(Debug, thiserror::Error)]
pub enum GetOrderError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The user or the order is unknown, or the order is another user's.
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Reads one of a user's orders.
pub struct GetOrder<U, O> {
    users: U,
    orders: O,
}

impl<U, O> GetOrder<U, O> {
    pub fn new(users: U, orders: O) -> Self {
        Self { users, orders }
    }
}

impl<U: UserRepository, O: OrderRepository> UseCase<OrderLookup> for GetOrder<U, O> {
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    async fn run(&self, caller: &Caller, command: OrderLookup) -> Result<Order, GetOrderError> {
        let OrderLookup { user_id, order_id } = command;
        // Both reads at once: one round trip of latency instead of two.
        let (owner, order) = try_join(
            order_owner::<U, GetOrderError>(&self.users, caller, user_id),
            async { Ok(self.orders.find(user_id, order_id).await?) },
        )
        .await?;
        match (owner, order) {
            (Some(_), Some(order)) => Ok(order),
            _ => Err(GetOrderError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{InMemoryOrders, InMemoryUsers, order_for, user_with_email};
    use crate::ports::Outgoing;

    #[tokio::test]
    async fn the_owner_reads_the_order_and_nobody_else_does() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        let grace = users.add(user_with_email("grace@example.com"));
        let order = order_for(ada.id());
        orders.insert(&order, &Outgoing::nothing()).await.unwrap();
        let get = GetOrder::new(users.clone(), orders);
        let admin = users.admin_caller();
        let lookup = |user_id, order_id| get.execute(&admin, OrderLookup { user_id, order_id });

        assert_eq!(lookup(ada.id(), order.id()).await.unwrap(), order);
        for (user_id, order_id) in [
            (grace.id(), order.id()),
            (ada.id(), OrderId::generate()),
            (UserId::generate(), order.id()),
        ] {
            assert!(matches!(
                lookup(user_id, order_id).await,
                Err(GetOrderError::NotFound)
            ));
        }
    }
}
