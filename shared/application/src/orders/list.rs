use super::order_owner;
use crate::ports::{
    Cursor, OrderRepository, Page, PageError, PageLimit, RepositoryError, UserRepository,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{Order, UserId};
use futures::future::join;

#[derive(Debug, Clone)]
pub struct UserOrdersQuery {
    pub user_id: UserId,
    pub limit: PageLimit,
    pub cursor: Option<Cursor>,
}

command!(UserOrdersQuery => Page<Order>, ListUserOrdersError; subject = user_id);

#[derive(Debug, thiserror::Error)]
pub enum ListUserOrdersError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown, or deleted.
    #[error("no such user")]
    UserNotFound,
    #[error("the cursor is not valid for this listing")]
    InvalidCursor,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Lists a user's orders, newest first, one page at a time.
pub struct ListUserOrders<U, O> {
    users: U,
    orders: O,
}

impl<U, O> ListUserOrders<U, O> {
    pub fn new(users: U, orders: O) -> Self {
        Self { users, orders }
    }
}

impl<U: UserRepository, O: OrderRepository> UseCase<UserOrdersQuery> for ListUserOrders<U, O> {
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    async fn run(
        &self,
        caller: &Caller,
        query: UserOrdersQuery,
    ) -> Result<Page<Order>, ListUserOrdersError> {
        let UserOrdersQuery {
            user_id,
            limit,
            cursor,
        } = query;
        // Both reads at once: one round trip of latency instead of two.
        let (owner, page) = join(
            order_owner::<U, ListUserOrdersError>(&self.users, caller, user_id),
            self.orders.list(user_id, limit, cursor.as_ref()),
        )
        .await;
        owner?.ok_or(ListUserOrdersError::UserNotFound)?;
        page.map_err(|error| match error {
            PageError::InvalidCursor => ListUserOrdersError::InvalidCursor,
            PageError::Repository(error) => ListUserOrdersError::Repository(error),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{InMemoryOrders, InMemoryUsers, order_for, user_with_email};
    use crate::ports::Outgoing;
    use domain::OrderId;

    #[tokio::test]
    async fn paging_returns_the_users_orders_once_each_newest_first() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        let grace = users.add(user_with_email("grace@example.com"));
        let mut expected = Vec::new();
        for _ in 0..5 {
            let order = order_for(ada.id());
            orders.insert(&order, &Outgoing::nothing()).await.unwrap();
            orders
                .insert(&order_for(grace.id()), &Outgoing::nothing())
                .await
                .unwrap();
            expected.push(order.id());
        }
        expected.reverse();
        let list = ListUserOrders::new(users.clone(), orders);

        let (mut seen, mut cursor) = (Vec::new(), None);
        loop {
            let query = UserOrdersQuery {
                user_id: ada.id(),
                limit: PageLimit::parse("2").unwrap(),
                cursor,
            };
            let page = list.execute(&users.admin_caller(), query).await.unwrap();
            seen.extend(page.items.iter().map(Order::id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn an_unknown_user_is_not_found_and_a_foreign_cursor_is_invalid() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        let list = ListUserOrders::new(users.clone(), orders);
        let unknown = UserOrdersQuery {
            user_id: UserId::generate(),
            limit: PageLimit::DEFAULT,
            cursor: None,
        };
        assert!(matches!(
            list.execute(&users.admin_caller(), unknown).await,
            Err(ListUserOrdersError::UserNotFound)
        ));
        let foreign = Cursor::new(format!("{}/{}", UserId::generate(), OrderId::generate()));
        let query = UserOrdersQuery {
            user_id: ada.id(),
            limit: PageLimit::DEFAULT,
            cursor: Some(foreign),
        };
        assert!(matches!(
            list.execute(&users.admin_caller(), query).await,
            Err(ListUserOrdersError::InvalidCursor)
        ));
    }
}
