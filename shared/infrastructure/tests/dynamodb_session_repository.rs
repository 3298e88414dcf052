//! Refresh tokens against DynamoDB Local, held to the `SessionRepository` contract.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::{RefreshTokenRecord, ResetTokens, RotateError, SessionRepository};
use domain::{Timestamp, UserId};
use infrastructure::{DynamoSessionRepository, OsResetTokens};
use support::fresh_table;

async fn store() -> DynamoSessionRepository {
    let (client, name) = fresh_table().await;
    DynamoSessionRepository::new(client, name)
}

fn token(user_id: UserId, family: &str) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: OsResetTokens.issue().unwrap().hash,
        user_id,
        family: family.to_owned(),
        family_started_at: Timestamp::now(),
        used: false,
    }
}

#[tokio::test]
async fn a_token_is_found_by_its_hash_and_rotates_once() {
    let sessions = store().await;
    let user_id = UserId::generate();
    let first = token(user_id, "family-1");
    sessions.save(&first).await.unwrap();
    let found = sessions.find(&first.hash).await.unwrap().unwrap();
    assert_eq!(
        (found.record.clone(), found.family_revoked),
        (first.clone(), false)
    );

    let next = token(user_id, "family-1");
    sessions.rotate(&first, &next).await.unwrap();
    let spent = sessions.find(&first.hash).await.unwrap().unwrap();
    assert!(spent.record.used);
    assert!(sessions.find(&next.hash).await.unwrap().is_some());

    let again = sessions.rotate(&first, &token(user_id, "family-1")).await;
    assert!(matches!(again, Err(RotateError::Lost)));
}

#[tokio::test]
async fn of_racing_rotations_of_one_token_exactly_one_wins() {
    let sessions = store().await;
    let first = token(UserId::generate(), "family-2");
    sessions.save(&first).await.unwrap();
    let nexts: Vec<RefreshTokenRecord> = (0..5).map(|_| token(first.user_id, "family-2")).collect();
    let results =
        futures::future::join_all(nexts.iter().map(|next| sessions.rotate(&first, next))).await;
    assert_eq!(results.iter().filter(|result| result.is_ok()).count(), 1);
}

#[tokio::test]
async fn a_revoked_family_shows_on_every_token_and_stops_rotation() {
    let sessions = store().await;
    let first = token(UserId::generate(), "family-3");
    sessions.save(&first).await.unwrap();
    sessions.revoke_family(&first).await.unwrap();
    assert!(
        sessions
            .find(&first.hash)
            .await
            .unwrap()
            .unwrap()
            .family_revoked
    );
    let next = token(first.user_id, "family-3");
    assert!(matches!(
        sessions.rotate(&first, &next).await,
        Err(RotateError::Lost)
    ));
    assert!(
        sessions.find(&next.hash).await.unwrap().is_none(),
        "nothing written"
    );
}
