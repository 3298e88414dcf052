//! Refresh tokens against DynamoDB Local, held to the `SessionRepository` contract.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::{
    LoginStore, RefreshTokenRecord, ResetTokens, RotateError, SessionRepository, UserRepository,
};
use domain::{Timestamp, User, UserId};
use infrastructure::{DynamoSessionRepository, DynamoUserRepository, OsResetTokens};
use support::{fresh_table, user};

struct Table {
    sessions: DynamoSessionRepository,
    users: DynamoUserRepository,
}

async fn table() -> Table {
    let (client, name) = fresh_table().await;
    Table {
        sessions: DynamoSessionRepository::new(client.clone(), name.clone()),
        users: DynamoUserRepository::new(client, name),
    }
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

/// A new user logged in, as a login stores it: the user as stored and its family's first token.
async fn logged_in(table: &Table, family: &str) -> (User, RefreshTokenRecord) {
    let ada = user("ada@example.com");
    table.users.insert(&ada, &[]).await.unwrap();
    let first = token(ada.id(), family);
    let mut updated = ada.clone();
    updated.record_login(Timestamp::now()).unwrap();
    let stored = table
        .users
        .record_login(&ada, updated, &first, ada.email())
        .await
        .unwrap();
    (stored, first)
}

#[tokio::test]
async fn a_token_is_found_by_its_hash_and_rotates_once() {
    let table = table().await;
    let sessions = &table.sessions;
    let (ada, first) = logged_in(&table, "family-1").await;
    let user_id = ada.id();
    let found = sessions.find(&first.hash).await.unwrap().unwrap();
    assert_eq!(found, first);

    let next = token(user_id, "family-1");
    sessions.rotate(&first, &next).await.unwrap();
    let spent = sessions.find(&first.hash).await.unwrap().unwrap();
    assert!(spent.used);
    assert!(sessions.find(&next.hash).await.unwrap().is_some());

    let again = sessions.rotate(&first, &token(user_id, "family-1")).await;
    assert!(matches!(again, Err(RotateError::Lost)));
}

#[tokio::test]
async fn of_racing_rotations_of_one_token_exactly_one_wins() {
    let table = table().await;
    let sessions = &table.sessions;
    let (_, first) = logged_in(&table, "family-2").await;
    let nexts: Vec<RefreshTokenRecord> = (0..5).map(|_| token(first.user_id, "family-2")).collect();
    let results =
        futures::future::join_all(nexts.iter().map(|next| sessions.rotate(&first, next))).await;
    assert_eq!(results.iter().filter(|result| result.is_ok()).count(), 1);
}

#[tokio::test]
async fn a_revoked_family_stops_rotation_and_says_so() {
    let table = table().await;
    let sessions = &table.sessions;
    let (_, first) = logged_in(&table, "family-3").await;
    sessions.revoke_family(&first).await.unwrap();
    let next = token(first.user_id, "family-3");
    assert!(matches!(
        sessions.rotate(&first, &next).await,
        Err(RotateError::Revoked)
    ));
    assert!(
        sessions.find(&next.hash).await.unwrap().is_none(),
        "nothing written"
    );
}

#[tokio::test]
async fn a_token_is_read_with_its_owner_in_one_request() {
    let table = table().await;
    let sessions = &table.sessions;
    let (ada, first) = logged_in(&table, "family-4").await;

    let (found, owner) = sessions
        .find_with_owner(&first.hash, ada.id())
        .await
        .unwrap();
    assert_eq!((found, owner), (Some(first.clone()), Some(ada.clone())));

    let unknown = OsResetTokens.issue().unwrap().hash;
    let (found, owner) = sessions.find_with_owner(&unknown, ada.id()).await.unwrap();
    assert_eq!((found, owner), (None, Some(ada)));
    let (found, owner) = sessions
        .find_with_owner(&first.hash, UserId::generate())
        .await
        .unwrap();
    assert_eq!((found, owner), (Some(first), None));
}
