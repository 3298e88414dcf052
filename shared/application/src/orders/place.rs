use super::order_owner;
use crate::messages;
use crate::ports::{
    Change, Clock, DomainEvent, IdGenerator, OrderRepository, Outgoing, RepositoryError,
    UserRepository,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{LineRequest, Order, OrderError, UserId, UserStatus, Version};

#[derive(Debug, Clone)]
pub struct PlacementRequest {
    pub user_id: UserId,
    pub lines: Vec<LineRequest>,
}

command!(PlacementRequest => Order, PlaceOrderError; subject = user_id);

#[derive(Debug, thiserror::Error)]
pub enum PlaceOrderError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown, or deleted.
    #[error("no such user")]
    UserNotFound,
    #[error("a {status} user cannot place orders")]
    UserNotActive { status: UserStatus },
    #[error(transparent)]
    InvalidOrder(#[from] OrderError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Places an order for an active user, its confirmation email recorded with it.
pub struct PlaceOrder<U, O, C, I> {
    users: U,
    orders: O,
    clock: C,
    ids: I,
}

impl<U, O, C, I> PlaceOrder<U, O, C, I> {
    pub fn new(users: U, orders: O, clock: C, ids: I) -> Self {
        Self {
            users,
            orders,
            clock,
            ids,
        }
    }
}

impl<U, O, C, I> UseCase<PlacementRequest> for PlaceOrder<U, O, C, I>
where
    U: UserRepository,
    O: OrderRepository,
    C: Clock,
    I: IdGenerator,
{
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    async fn run(
        &self,
        caller: &Caller,
        request: PlacementRequest,
    ) -> Result<Order, PlaceOrderError> {
        let user = order_owner::<U, PlaceOrderError>(&self.users, caller, request.user_id)
            .await?
            .ok_or(PlaceOrderError::UserNotFound)?;
        if !user.can_login() {
            return Err(PlaceOrderError::UserNotActive {
                status: user.status(),
            });
        }
        let order = Order::place(
            self.ids.new_order_id(),
            user.id(),
            request.lines,
            self.clock.now(),
        )?;
        let confirmation = messages::order_confirmation(&user, &order);
        let placed = DomainEvent {
            user_id: order.user_id(),
            version: Version::new(1),
            change: Change::OrderPlaced {
                order_id: order.id(),
                total: order.total(),
                lines: order.lines().len(),
            },
        };
        self.orders
            .insert(&order, &Outgoing::email(confirmation).and([placed]))
            .await?;
        Ok(order)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FixedClock, InMemoryOrders, InMemoryUsers, SequentialIds, user_with_email};
    use domain::{Currency, Money, Quantity, Sku, User};

    type Place = PlaceOrder<InMemoryUsers, InMemoryOrders, FixedClock, SequentialIds>;

    fn line(sku: &str, quantity: i64, amount: &str, currency: &str) -> LineRequest {
        LineRequest {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::new(quantity).unwrap(),
            unit_price: Money::parse(amount, Currency::parse(currency).unwrap()).unwrap(),
        }
    }

    /// The use case, its orders, `user` as stored, and an administrator calling.
    fn setup(user: User) -> (Place, InMemoryOrders, User, Caller) {
        let users = InMemoryUsers::default();
        let user = users.add(user);
        let admin = users.admin_caller();
        let orders = InMemoryOrders::default();
        let use_case = PlaceOrder::new(users, orders.clone(), FixedClock::default(), SequentialIds);
        (use_case, orders, user, admin)
    }

    #[tokio::test]
    async fn an_active_user_places_an_order_stored_with_its_confirmation() {
        let (place, orders, ada, admin) = setup(user_with_email("ada@example.com"));
        let request = PlacementRequest {
            user_id: ada.id(),
            lines: vec![
                line("BOOK-1", 2, "12.50", "EUR"),
                line("PEN", 1, "0.99", "EUR"),
            ],
        };
        let order = place.execute(&admin, request).await.unwrap();

        assert_eq!(order.total().amount(), "25.99");
        assert_eq!(orders.all(), vec![order.clone()]);
        let sent = orders.outbox().emails();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to, *ada.email());
        assert!(
            sent[0].text.contains("2 x BOOK-1 at 12.50 EUR = 25.00 EUR"),
            "{}",
            sent[0].text
        );
        assert!(sent[0].text.contains("Total: 25.99 EUR"));
        let placed = orders.outbox().events();
        assert_eq!(
            placed,
            [crate::ports::DomainEvent {
                user_id: ada.id(),
                version: domain::Version::new(1),
                change: crate::ports::Change::OrderPlaced {
                    order_id: order.id(),
                    total: order.total(),
                    lines: 2,
                },
            }],
            "its event, recorded with it"
        );
    }

    #[tokio::test]
    async fn a_suspended_user_is_refused_and_nothing_is_stored() {
        let mut suspended = user_with_email("s@example.com");
        suspended.suspend().unwrap();
        let (place, orders, user, admin) = setup(suspended);
        let result = place
            .execute(
                &admin,
                PlacementRequest {
                    user_id: user.id(),
                    lines: vec![line("A", 1, "1", "JPY")],
                },
            )
            .await;
        assert!(matches!(
            result,
            Err(PlaceOrderError::UserNotActive {
                status: UserStatus::Suspended
            })
        ));
        assert!(orders.all().is_empty());
    }

    #[tokio::test]
    async fn unknown_and_deleted_users_are_not_found() {
        let mut deleted = user_with_email("d@example.com");
        deleted.delete().unwrap();
        let (place, _, gone, admin) = setup(deleted);
        for user_id in [gone.id(), UserId::generate()] {
            let result = place
                .execute(
                    &admin,
                    PlacementRequest {
                        user_id,
                        lines: vec![line("A", 1, "1", "JPY")],
                    },
                )
                .await;
            assert!(matches!(result, Err(PlaceOrderError::UserNotFound)));
        }
    }

    #[tokio::test]
    async fn mixed_currencies_and_overflowing_totals_are_invalid() {
        let (place, orders, ada, admin) = setup(user_with_email("ada@example.com"));
        let mixed = vec![line("A", 1, "1.00", "EUR"), line("B", 1, "1.00", "GBP")];
        let result = place
            .execute(
                &admin,
                PlacementRequest {
                    user_id: ada.id(),
                    lines: mixed,
                },
            )
            .await;
        assert!(matches!(
            result,
            Err(PlaceOrderError::InvalidOrder(OrderError::MixedCurrencies))
        ));
        let huge = vec![line("A", 1000, "92233720368547758.07", "EUR")];
        let result = place
            .execute(
                &admin,
                PlacementRequest {
                    user_id: ada.id(),
                    lines: huge,
                },
            )
            .await;
        assert!(matches!(
            result,
            Err(PlaceOrderError::InvalidOrder(OrderError::TotalOverflow))
        ));
        assert!(orders.all().is_empty());
    }

    #[tokio::test]
    async fn a_store_outage_is_reported_and_records_no_confirmation() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let orders = InMemoryOrders::unavailable();
        let place = PlaceOrder::new(
            users.clone(),
            orders.clone(),
            FixedClock::default(),
            SequentialIds,
        );
        let result = place
            .execute(
                &users.admin_caller(),
                PlacementRequest {
                    user_id: ada.id(),
                    lines: vec![line("A", 1, "5", "JPY")],
                },
            )
            .await;
        assert!(matches!(
            result,
            Err(PlaceOrderError::Repository(RepositoryError::Unavailable(_)))
        ));
        assert!(orders.outbox().emails().is_empty());
    }
}
