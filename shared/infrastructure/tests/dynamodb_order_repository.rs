//! The DynamoDB order repository against DynamoDB Local, held to the `OrderRepository` contract.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{Cursor, OrderRepository, PageError, PageLimit, UserRepository};
use domain::{Currency, LineRequest, Money, Order, OrderId, Quantity, Sku, Timestamp, UserId};
use infrastructure::DynamoOrderRepository;
use support::{fresh_order_repositories, user};

fn line(sku: &str, quantity: i64, amount: &str, currency: &str) -> LineRequest {
    LineRequest {
        sku: Sku::parse(sku).unwrap(),
        quantity: Quantity::new(quantity).unwrap(),
        unit_price: Money::parse(amount, Currency::parse(currency).unwrap()).unwrap(),
    }
}

fn order_for(user_id: UserId, lines: Vec<LineRequest>) -> Order {
    Order::place(OrderId::generate(), user_id, lines, Timestamp::now()).unwrap()
}

#[tokio::test]
async fn an_order_reads_back_exactly_and_only_under_its_user() {
    let (orders, _) = fresh_order_repositories().await;
    let ada = UserId::generate();
    let order = order_for(
        ada,
        vec![
            line("BOOK-1", 2, "12.50", "EUR"),
            line("pen_2", 1000, "92233720368547.00", "EUR"),
        ],
    );
    orders.insert(&order, &Outgoing::nothing()).await.unwrap();

    let read = orders.find(ada, order.id()).await.unwrap().expect("stored");
    assert_eq!(read, order);
    assert_eq!(read.total().amount(), "92233720368547025.00");
    assert_eq!(
        orders.find(UserId::generate(), order.id()).await.unwrap(),
        None
    );
    assert_eq!(orders.find(ada, OrderId::generate()).await.unwrap(), None);
}

#[tokio::test]
async fn currencies_keep_their_own_minor_units() {
    let (orders, _) = fresh_order_repositories().await;
    let user_id = UserId::generate();
    for (amount, code) in [("300", "JPY"), ("3.702", "KWD"), ("0.01", "USD")] {
        let order = order_for(user_id, vec![line("X", 1, amount, code)]);
        orders.insert(&order, &Outgoing::nothing()).await.unwrap();
        let read = orders.find(user_id, order.id()).await.unwrap().unwrap();
        assert_eq!(
            (read.total().amount(), read.currency().code()),
            (amount.to_owned(), code)
        );
    }
}

async fn list_all(orders: &DynamoOrderRepository, user_id: UserId, limit: &str) -> Vec<OrderId> {
    let (mut seen, mut cursor): (Vec<OrderId>, Option<Cursor>) = (Vec::new(), None);
    loop {
        let page = orders
            .list(user_id, PageLimit::parse(limit).unwrap(), cursor.as_ref())
            .await
            .unwrap();
        seen.extend(page.items.iter().map(Order::id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn a_users_orders_page_newest_first_without_the_user_item_or_others_orders() {
    let (orders, users) = fresh_order_repositories().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let grace = UserId::generate();
    let mut expected = Vec::new();
    for n in 0..7 {
        let order = order_for(ada.id(), vec![line(&format!("SKU-{n}"), 1, "1.00", "EUR")]);
        orders.insert(&order, &Outgoing::nothing()).await.unwrap();
        orders
            .insert(
                &order_for(grace, vec![line("OTHER", 1, "1", "JPY")]),
                &Outgoing::nothing(),
            )
            .await
            .unwrap();
        expected.push(order.id());
    }
    expected.reverse();

    assert_eq!(list_all(&orders, ada.id(), "3").await, expected);
    assert_eq!(list_all(&orders, ada.id(), "7").await, expected);
    assert_eq!(list_all(&orders, ada.id(), "100").await, expected);
    assert!(list_all(&orders, UserId::generate(), "5").await.is_empty());
}

#[tokio::test]
async fn a_cursor_for_one_users_orders_is_invalid_for_another() {
    let (orders, _) = fresh_order_repositories().await;
    let (ada, grace) = (UserId::generate(), UserId::generate());
    for _ in 0..2 {
        orders
            .insert(
                &order_for(ada, vec![line("A", 1, "1", "JPY")]),
                &Outgoing::nothing(),
            )
            .await
            .unwrap();
    }
    let page = orders
        .list(ada, PageLimit::parse("1").unwrap(), None)
        .await
        .unwrap();
    let cursor = page.next_cursor.expect("a second page");
    let foreign = orders.list(grace, PageLimit::DEFAULT, Some(&cursor)).await;
    assert!(matches!(foreign, Err(PageError::InvalidCursor)));
    let forged = orders
        .list(ada, PageLimit::DEFAULT, Some(&Cursor::new("forged")))
        .await;
    assert!(matches!(forged, Err(PageError::InvalidCursor)));
}
