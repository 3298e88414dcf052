//! Credentials live under partition keys of their own kind, never in the user's partition, so
//! a policy can grant the user item without them (`dynamodb:LeadingKeys`, template.yaml).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{
    CredentialRepository, OrderRepository, ResetTokenRecord, ResetTokens, UserRepository,
};
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{
    Currency, LineRequest, Money, Order, OrderId, PasswordHash, Quantity, Sku, Timestamp,
};
use infrastructure::{
    DynamoCredentialRepository, DynamoOrderRepository, DynamoUserRepository, OsResetTokens,
};
use support::{fresh_table, logged_in, user};

#[tokio::test]
async fn the_users_partition_holds_the_user_alone_and_each_credential_its_own_kind() {
    let (client, table) = fresh_table().await;
    let users = DynamoUserRepository::new(client.clone(), table.clone());
    let credentials = DynamoCredentialRepository::new(client.clone(), table.clone());
    let orders = DynamoOrderRepository::new(client.clone(), table.clone());
    // A login (session and refresh token), a reset redeemed (password), a reset pending, an
    // order.
    let (ada, ..) = logged_in(&users, user("apart@example.com")).await;
    let now = Timestamp::now();
    let reset = |hash| ResetTokenRecord {
        hash,
        user_id: ada.id(),
        sent_to: ada.email().clone(),
        expires_at: now.plus_seconds(3600).unwrap(),
    };
    let redeemed = reset(OsResetTokens.issue().unwrap().hash);
    credentials
        .replace_reset_token(&redeemed, now, &Outgoing::nothing())
        .await
        .unwrap();
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    let as_read = users.find(ada.id()).await.unwrap().unwrap();
    credentials
        .redeem_reset_token(&redeemed, &as_read, &hash, now, &Outgoing::nothing())
        .await
        .unwrap();
    let pending = reset(OsResetTokens.issue().unwrap().hash);
    let later = now.plus_seconds(120).unwrap();
    credentials
        .replace_reset_token(&pending, later, &Outgoing::nothing())
        .await
        .unwrap();
    let line = LineRequest {
        sku: Sku::parse("APART").unwrap(),
        quantity: Quantity::new(1).unwrap(),
        unit_price: Money::parse("1.00", Currency::parse("EUR").unwrap()).unwrap(),
    };
    let order = Order::place(OrderId::generate(), ada.id(), vec![line], now).unwrap();
    orders.insert(&order, &Outgoing::nothing()).await.unwrap();

    let scan = client.scan().table_name(&table).send().await.unwrap();
    let kinds: Vec<(String, String)> = scan
        .items()
        .iter()
        .map(|item| {
            let text = |name: &str| item[name].as_s().unwrap().clone();
            let pk = text("pk");
            (pk.split('#').next().unwrap().to_owned(), text("entity"))
        })
        .collect();
    for (kind, entity) in &kinds {
        let expected = match entity.as_str() {
            "user" => "USER",
            "email_claim" => "EMAIL",
            "password" => "PASSWORD",
            "session" => "SESSION",
            "refresh_token" => "REFRESH",
            "reset_token" | "latest_reset_token" => "RESET",
            "order" => "ORDERS",
            other => panic!("an item this test did not write: {other}"),
        };
        assert_eq!(kind, expected, "{entity}");
    }
    for entity in [
        "password",
        "session",
        "refresh_token",
        "reset_token",
        "order",
    ] {
        assert!(kinds.iter().any(|(_, stored)| stored == entity), "{entity}");
    }
    let partition = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("USER#{}", ada.id())))
        .send()
        .await
        .unwrap();
    assert_eq!(partition.count(), 1, "the user item alone");
}
