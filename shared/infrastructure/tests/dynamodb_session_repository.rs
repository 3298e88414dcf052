//! Sessions and their refresh tokens against DynamoDB Local, held to the `SessionRepository`
//! contract, and the caller's record read beside a user (`UserRepository::find_with_caller`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::{ResetTokens, RotateError, SessionRepository, UserRepository};
use domain::{Timestamp, UserId};
use infrastructure::{DynamoSessionRepository, DynamoUserRepository, OsResetTokens};
use support::{fresh_table, logged_in, new_session, next_token, user};

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

#[tokio::test]
async fn a_token_is_found_by_its_hash_and_rotates_once_recording_the_sessions_use() {
    let table = table().await;
    let sessions = &table.sessions;
    let (ada, session, first) = logged_in(&table.users, user("ada@example.com")).await;
    let found = sessions.find(&first.hash).await.unwrap().unwrap();
    assert_eq!(found, first);
    assert_eq!(
        sessions.list(ada.id()).await.unwrap(),
        vec![session.clone()]
    );

    let next = next_token(&first);
    let later = Timestamp::now().plus_seconds(60).unwrap();
    sessions.rotate(&first, &next, later).await.unwrap();
    let spent = sessions.find(&first.hash).await.unwrap().unwrap();
    assert!(spent.used);
    assert_eq!(sessions.find(&next.hash).await.unwrap(), Some(next));
    let listed = sessions.list(ada.id()).await.unwrap();
    assert_eq!(
        listed[0].last_used_at, later,
        "the refresh touched the session"
    );

    let again = sessions.rotate(&first, &next_token(&first), later).await;
    assert!(matches!(again, Err(RotateError::Lost)));
}

#[tokio::test]
async fn of_racing_rotations_of_one_token_exactly_one_wins() {
    let table = table().await;
    let sessions = &table.sessions;
    let (_, _, first) = logged_in(&table.users, user("ada@example.com")).await;
    let nexts: Vec<_> = (0..5).map(|_| next_token(&first)).collect();
    let now = Timestamp::now();
    let results =
        futures::future::join_all(nexts.iter().map(|next| sessions.rotate(&first, next, now)))
            .await;
    assert_eq!(results.iter().filter(|result| result.is_ok()).count(), 1);
}

#[tokio::test]
async fn an_ended_session_stops_rotation_leaves_the_list_and_is_ended_once() {
    let table = table().await;
    let sessions = &table.sessions;
    let (ada, session, first) = logged_in(&table.users, user("ada@example.com")).await;
    assert_eq!(
        sessions.end_session(ada.id(), session.id).await.unwrap(),
        Some(session.clone()),
        "the session as it was"
    );
    assert_eq!(
        sessions.end_session(ada.id(), session.id).await.unwrap(),
        None,
        "no such session any more"
    );
    let next = next_token(&first);
    assert!(matches!(
        sessions.rotate(&first, &next, Timestamp::now()).await,
        Err(RotateError::Revoked)
    ));
    assert!(
        sessions.find(&next.hash).await.unwrap().is_none(),
        "nothing written"
    );
    assert!(sessions.list(ada.id()).await.unwrap().is_empty());
    let stranger = UserId::generate();
    assert_eq!(
        sessions.end_session(stranger, session.id).await.unwrap(),
        None,
        "a session is ended only under its own user"
    );
}

#[tokio::test]
async fn a_token_is_read_with_its_owner_in_one_request() {
    let table = table().await;
    let sessions = &table.sessions;
    let (ada, _, first) = logged_in(&table.users, user("ada@example.com")).await;

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

#[tokio::test]
async fn the_callers_record_and_session_come_with_the_subject_in_one_read() {
    let table = table().await;
    let (users, sessions) = (&table.users, &table.sessions);
    let (admin, session, _) = logged_in(users, user("admin@example.com")).await;
    let (grace, _, _) = logged_in(users, user("grace@example.com")).await;

    let (subject, record) = users
        .find_with_caller(Some(grace.id()), admin.id(), session.id)
        .await
        .unwrap();
    assert_eq!(subject, Some(grace.clone()));
    assert_eq!(record.account, Some(admin.clone()));
    assert!(record.session_stored);

    let (subject, record) = users
        .find_with_caller(Some(admin.id()), admin.id(), session.id)
        .await
        .unwrap();
    assert_eq!(subject, Some(admin.clone()), "the caller itself, read once");
    assert_eq!(record.account, Some(admin.clone()));

    let (unseen, another) = new_session(&admin);
    let (subject, record) = users
        .find_with_caller(None, admin.id(), unseen.id)
        .await
        .unwrap();
    assert_eq!(subject, None);
    assert!(!record.session_stored, "a session never stored");
    drop(another);

    sessions.end_session(admin.id(), session.id).await.unwrap();
    let (_, record) = users
        .find_with_caller(Some(grace.id()), admin.id(), session.id)
        .await
        .unwrap();
    assert!(!record.session_stored, "an ended session");
    let (_, record) = users
        .find_with_caller(Some(grace.id()), UserId::generate(), session.id)
        .await
        .unwrap();
    assert_eq!(record.account, None);
}
