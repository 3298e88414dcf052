//! Idempotency records against DynamoDB Local, held to the `IdempotencyStore` contract.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use domain::Timestamp;
use idempotency::{IdempotencyClaim, IdempotencyStore, StoredResponse};
use infrastructure::DynamoIdempotencyStore;

async fn store() -> DynamoIdempotencyStore {
    let (client, name) = support::fresh_table().await;
    DynamoIdempotencyStore::new(client, name)
}

/// `seconds` after `now`: every test pins one `now`, so no second boundary falls between the
/// write and the check.
fn after(now: Timestamp, seconds: i64) -> Timestamp {
    now.plus_seconds(seconds).unwrap()
}

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            ("location".to_owned(), "/users/1".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
        ],
        body: r#"{"id":"1"}"#.to_owned(),
    }
}

#[tokio::test]
async fn the_first_claim_acquires_then_repeats_see_progress_and_then_the_stored_response() {
    let store = store().await;
    let now = Timestamp::now();
    assert_eq!(
        store.claim("k", "h", now).await.unwrap(),
        IdempotencyClaim::Acquired
    );
    assert_eq!(
        store.claim("k", "h", now).await.unwrap(),
        IdempotencyClaim::InProgress
    );
    assert_eq!(
        store.claim("k", "other", now).await.unwrap(),
        IdempotencyClaim::Mismatch
    );

    store.complete("k", "h", &created(), now).await.unwrap();
    let mut replayed = match store.claim("k", "h", now).await.unwrap() {
        IdempotencyClaim::Replay(response) => response,
        other => panic!("expected a replay, got {other:?}"),
    };
    replayed.headers.sort();
    let mut expected = created();
    expected.headers.sort();
    assert_eq!(replayed, expected);
    assert_eq!(
        store.claim("k", "other", now).await.unwrap(),
        IdempotencyClaim::Mismatch
    );
}

#[tokio::test]
async fn a_released_key_can_be_claimed_again() {
    let store = store().await;
    let now = Timestamp::now();
    assert_eq!(
        store.claim("k", "h", now).await.unwrap(),
        IdempotencyClaim::Acquired
    );
    store.release("k", "h").await.unwrap();
    assert_eq!(
        store.claim("k", "h", now).await.unwrap(),
        IdempotencyClaim::Acquired
    );
}

#[tokio::test]
async fn records_expire_after_an_hour_even_before_ttl_deletes_them() {
    let store = store().await;
    let now = Timestamp::now();
    store.claim("k", "h", now).await.unwrap();
    store.complete("k", "h", &created(), now).await.unwrap();
    assert!(matches!(
        store.claim("k", "h", after(now, 3599)).await.unwrap(),
        IdempotencyClaim::Replay(_)
    ));
    assert_eq!(
        store
            .claim("k", "new body", after(now, 3601))
            .await
            .unwrap(),
        IdempotencyClaim::Acquired
    );
}

#[tokio::test]
async fn an_in_progress_record_of_a_dead_invocation_can_be_taken_over() {
    let store = store().await;
    let now = Timestamp::now();
    store.claim("k", "h", now).await.unwrap();
    assert_eq!(
        store.claim("k", "h", after(now, 5)).await.unwrap(),
        IdempotencyClaim::InProgress
    );
    assert_eq!(
        store.claim("k", "h", after(now, 31)).await.unwrap(),
        IdempotencyClaim::Acquired
    );
}

#[tokio::test]
async fn racing_claims_of_one_key_let_exactly_one_acquire() {
    let store = store().await;
    let now = Timestamp::now();
    let claims = futures::future::join_all((0..8).map(|_| store.claim("k", "h", now))).await;
    let acquired = claims
        .iter()
        .filter(|claim| matches!(claim, Ok(IdempotencyClaim::Acquired)))
        .count();
    assert_eq!(acquired, 1, "{claims:?}");
}
