use super::order_owner;
use crate::ports::{OrderRepository, RepositoryError, UserRepository};
use domain::{Order, OrderId, UserId};
use futures::future::try_join;

#[derive(Debug, thiserror::Error)]
pub enum GetOrderError {
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

impl<U: UserRepository, O: OrderRepository> GetOrder<U, O> {
    pub fn new(users: U, orders: O) -> Self {
        Self { users, orders }
    }

    pub async fn execute(
        &self,
        user_id: UserId,
        order_id: OrderId,
    ) -> Result<Order, GetOrderError> {
        // Both reads at once: one round trip of latency instead of two.
        let (owner, order) = try_join(
            order_owner(&self.users, user_id),
            self.orders.find(user_id, order_id),
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

    #[tokio::test]
    async fn the_owner_reads_the_order_and_nobody_else_does() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        let grace = users.add(user_with_email("grace@example.com"));
        let order = order_for(ada.id());
        orders.insert(&order).await.unwrap();
        let get = GetOrder::new(users, orders);

        assert_eq!(get.execute(ada.id(), order.id()).await.unwrap(), order);
        assert!(matches!(
            get.execute(grace.id(), order.id()).await,
            Err(GetOrderError::NotFound)
        ));
        assert!(matches!(
            get.execute(ada.id(), OrderId::generate()).await,
            Err(GetOrderError::NotFound)
        ));
        assert!(matches!(
            get.execute(UserId::generate(), order.id()).await,
            Err(GetOrderError::NotFound)
        ));
    }
}
