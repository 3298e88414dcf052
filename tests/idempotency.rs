//! `Idempotency-Key` on `POST /users` and `POST /users/{id}/orders`, end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{Api, Reply, mailbox_for, unique_email};

async fn post_with_key(api: &Api, path: &str, key: &str, body: &Value) -> Reply {
    api.send(
        api.request(Method::POST, path)
            .header("idempotency-key", key)
            .json(body),
    )
    .await
}

fn new_key() -> String {
    format!("key-{}", uuid::Uuid::new_v4())
}

#[tokio::test]
async fn a_retried_registration_gets_the_first_answer_and_creates_nothing_more() {
    let api = Api::default();
    let (key, email) = (new_key(), unique_email("retry"));
    let body = json!({"email": email, "name": "Retry"});

    let first = post_with_key(&api, "/users", &key, &body).await;
    assert_eq!(first.status, 201);
    assert!(first.header("idempotency-replayed").is_none());
    let again = post_with_key(&api, "/users", &key, &body).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body));
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(mailbox_for(&email).await.len(), 1, "one welcome email");

    let other = post_with_key(
        &api,
        "/users",
        &key,
        &json!({"email": unique_email("other"), "name": "Other"}),
    )
    .await;
    other.expect_problem(422);
    let fresh_key = post_with_key(&api, "/users", &new_key(), &body).await;
    fresh_key.expect_problem(409);
}

#[tokio::test]
async fn a_refusal_is_replayed_too_and_bad_keys_are_a_400() {
    let api = Api::default();
    let email = unique_email("taken");
    api.create_user(&email, "Owner").await;
    let key = new_key();
    let body = json!({"email": email, "name": "Second"});
    post_with_key(&api, "/users", &key, &body)
        .await
        .expect_problem(409);
    let replay = post_with_key(&api, "/users", &key, &body).await;
    replay.expect_problem(409);
    assert_eq!(replay.header("idempotency-replayed"), Some("true"));

    post_with_key(&api, "/users", &"k".repeat(256), &body)
        .await
        .expect_problem(400);
}

#[tokio::test]
async fn parallel_retries_of_one_registration_create_one_user() {
    let api = Api::default();
    let (key, email) = (new_key(), unique_email("burst"));
    let body = json!({"email": email, "name": "Burst"});
    let replies = join_all((0..6).map(|_| post_with_key(&api, "/users", &key, &body))).await;
    let ids: Vec<&str> = replies
        .iter()
        .filter(|reply| reply.status == 201)
        .map(|reply| reply.body["id"].as_str().unwrap())
        .collect();
    assert!(!ids.is_empty());
    assert!(
        ids.windows(2).all(|pair| pair[0] == pair[1]),
        "one user: {ids:?}"
    );
    for reply in &replies {
        assert!(
            reply.status == 201 || reply.status == 409,
            "{}: {}",
            reply.status,
            reply.body
        );
    }
    assert_eq!(mailbox_for(&email).await.len(), 1);
}

#[tokio::test]
async fn a_retried_order_is_placed_once() {
    let api = Api::default();
    let user = api.create_user(&unique_email("orders"), "Buyer").await;
    let path = format!("/users/{}/orders", user["id"].as_str().unwrap());
    let key = new_key();
    let body = json!({"items": [{"sku": "ONCE", "quantity": 1, "unit_price": {"amount": "9.99", "currency": "EUR"}}]});

    let first = post_with_key(&api, &path, &key, &body).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = post_with_key(&api, &path, &key, &body).await;
    assert_eq!(
        (again.status, &again.body["id"]),
        (first.status, &first.body["id"])
    );
    assert_eq!(
        api.get(&path).await.body["items"].as_array().unwrap().len(),
        1,
        "one order"
    );

    // The same key under another user's orders is another key.
    let other = api.create_user(&unique_email("orders2"), "Buyer 2").await;
    let other_path = format!("/users/{}/orders", other["id"].as_str().unwrap());
    let theirs = post_with_key(&api, &other_path, &key, &body).await;
    assert_eq!(theirs.status, 201);
    assert_ne!(theirs.body["id"], first.body["id"]);
}
