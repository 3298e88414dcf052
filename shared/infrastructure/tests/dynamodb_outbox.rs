//! The outbox against DynamoDB Local: each email is written in the same transaction as the
//! change that causes it, so a refused change records no email; the mailer's view finds and
//! forgets items.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{InsertUserError, OrderRepository, Outbox, OutgoingEmail, UserRepository};
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{Email, LineRequest, Money, Order, OrderId, Quantity, Sku, Timestamp};
use infrastructure::{
    DynamoOrderRepository, DynamoOutbox, DynamoUserRepository, OUTBOX_ENTITY, OutboxItem,
};
use support::{fresh_table, user};

fn email(to: &str, subject: &str) -> OutgoingEmail {
    OutgoingEmail::new(Email::parse(to).unwrap(), subject, "Hello.\n")
}

/// Every outbox item of the table, read back as the mailer would.
async fn recorded(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<(String, OutgoingEmail)> {
    let output = client
        .scan()
        .table_name(table)
        .filter_expression("entity = :outbox")
        .expression_attribute_values(":outbox", AttributeValue::S(OUTBOX_ENTITY.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    output
        .items()
        .iter()
        .map(|item| {
            let item: OutboxItem = serde_dynamo::from_item(item.clone()).unwrap();
            let pending = item.into_pending().unwrap();
            (pending.id, pending.email)
        })
        .collect()
}

#[tokio::test]
async fn a_registration_records_its_email_in_the_same_transaction_and_a_refused_one_none() {
    let (client, table) = fresh_table().await;
    let users = DynamoUserRepository::new(client.clone(), table.clone());
    let ada = user("ada@example.com");
    let welcome = email("ada@example.com", "Welcome aboard");
    users
        .insert(&ada, &Outgoing::email(welcome.clone()))
        .await
        .unwrap();
    let twin = user("ADA@example.com");
    let refused = users
        .insert(
            &twin,
            &Outgoing::email(email("ADA@example.com", "Welcome twin")),
        )
        .await;
    assert!(matches!(refused, Err(InsertUserError::EmailTaken)));

    let items = recorded(&client, &table).await;
    assert_eq!(items.len(), 1, "the refused registration recorded nothing");
    assert_eq!(items[0].1, welcome);
}

#[tokio::test]
async fn an_order_and_a_user_change_record_their_emails_with_them() {
    let (client, table) = fresh_table().await;
    let users = DynamoUserRepository::new(client.clone(), table.clone());
    let orders = DynamoOrderRepository::new(client.clone(), table.clone());
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let line = LineRequest {
        sku: Sku::parse("BOOK").unwrap(),
        quantity: Quantity::new(1).unwrap(),
        unit_price: Money::parse("1.00", domain::Currency::parse("EUR").unwrap()).unwrap(),
    };
    let order = Order::place(OrderId::generate(), ada.id(), vec![line], Timestamp::now()).unwrap();
    orders
        .insert(
            &order,
            &Outgoing::email(email("ada@example.com", "Your order")),
        )
        .await
        .unwrap();
    // A change that moves no claim still records its email in one transaction.
    let mut renamed = ada.clone();
    renamed.verify_email();
    let stale = users
        .update(
            &ada.clone().stored_at(ada.version().next()),
            renamed.clone(),
            &Outgoing::email(email("ada@example.com", "Stale")),
        )
        .await;
    assert!(
        stale.is_err(),
        "a stale version writes nothing, email included"
    );
    users
        .update(
            &ada,
            renamed,
            &Outgoing::email(email("ada@example.com", "Verified")),
        )
        .await
        .unwrap();

    let subjects: Vec<String> = recorded(&client, &table)
        .await
        .into_iter()
        .map(|(_, email)| email.subject)
        .collect();
    assert_eq!(subjects.len(), 2);
    assert!(subjects.contains(&"Your order".to_owned()));
    assert!(subjects.contains(&"Verified".to_owned()));
}

#[tokio::test]
async fn the_mailer_finds_an_item_pending_until_it_forgets_it() {
    let (client, table) = fresh_table().await;
    let users = DynamoUserRepository::new(client.clone(), table.clone());
    users
        .insert(
            &user("ada@example.com"),
            &Outgoing::email(email("ada@example.com", "Welcome")),
        )
        .await
        .unwrap();
    let outbox = DynamoOutbox::new(client.clone(), table.clone());
    let (id, _) = recorded(&client, &table).await.remove(0);
    assert!(outbox.is_pending(&id).await.unwrap());
    outbox.forget(&id).await.unwrap();
    assert!(!outbox.is_pending(&id).await.unwrap());
    outbox.forget(&id).await.unwrap();
    assert!(recorded(&client, &table).await.is_empty());
}

#[tokio::test]
async fn an_email_still_waiting_is_written_back_as_a_new_item_and_a_sent_one_is_not() {
    let (client, table) = fresh_table().await;
    let users = DynamoUserRepository::new(client.clone(), table.clone());
    for address in ["stuck@example.com", "sent@example.com"] {
        users
            .insert(&user(address), &Outgoing::email(email(address, "Welcome")))
            .await
            .unwrap();
    }
    let outbox = DynamoOutbox::new(client.clone(), table.clone());
    let before = recorded(&client, &table).await;
    let (sent_id, _) = before
        .iter()
        .find(|(_, email)| email.to.as_str() == "sent@example.com")
        .unwrap()
        .clone();
    outbox.forget(&sent_id).await.unwrap();

    let a_minute_ago = Timestamp::now().plus_seconds(-60).unwrap();
    assert_eq!(
        outbox.redrive(a_minute_ago).await.unwrap(),
        0,
        "nothing that old"
    );
    let later = Timestamp::now().plus_seconds(60).unwrap();
    assert_eq!(outbox.redrive(later).await.unwrap(), 1);
    let after = recorded(&client, &table).await;
    assert_eq!(after.len(), 1);
    let (stuck_id, stuck) = before
        .into_iter()
        .find(|(_, email)| email.to.as_str() == "stuck@example.com")
        .unwrap();
    assert_eq!(after[0].1, stuck, "the same email");
    assert_ne!(
        after[0].0, stuck_id,
        "under a new id: a new insert on the stream"
    );
    assert!(!outbox.is_pending(&stuck_id).await.unwrap());
}
