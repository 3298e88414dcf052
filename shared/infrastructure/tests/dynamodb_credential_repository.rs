//! Reset tokens and password hashes against DynamoDB Local, held to the
//! `CredentialRepository` contract; and finding users by email.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{
    CredentialRepository, PasswordHasher, RedeemTokenError, ResetTokenRecord, ResetTokens,
    UserRepository,
};
use domain::{Email, Password, PasswordHash, Timestamp, User};
use infrastructure::{Argon2Hasher, OsResetTokens};
use support::{fresh_credential_repositories, user};

fn record(user: &User) -> (String, ResetTokenRecord) {
    let issued = OsResetTokens.issue().unwrap();
    let expires_at = Timestamp::now().plus_seconds(3600).unwrap();
    (
        issued.token,
        ResetTokenRecord {
            hash: issued.hash,
            user_id: user.id(),
            sent_to: user.email().clone(),
            expires_at,
        },
    )
}

#[tokio::test]
async fn a_token_is_stored_by_its_hash_and_redeemed_once_for_a_password() {
    let (credentials, users) = fresh_credential_repositories().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let user_id = ada.id();
    let (token, saved) = record(&ada);
    credentials.save_reset_token(&saved).await.unwrap();

    let found = credentials
        .find_reset_token(&OsResetTokens.hash(&token))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_id, user_id);
    let drift = found.expires_at.as_millis() - saved.expires_at.as_millis();
    assert!(
        (0..1000).contains(&drift),
        "stored in whole seconds, rounded up: {drift} ms"
    );
    assert_eq!(credentials.password_hash(user_id).await.unwrap(), None);

    let hash = Argon2Hasher::default()
        .hash(&Password::parse("correct horse battery").unwrap())
        .unwrap();
    let now = Timestamp::now();
    credentials
        .redeem_reset_token(&found, &ada, &hash, now, &Outgoing::nothing())
        .await
        .unwrap();
    let verified = users.find(user_id).await.unwrap().unwrap();
    assert!(verified.email_verified());
    assert_eq!(verified.sessions_valid_after(), Some(now));
    assert_eq!(verified.version(), ada.version().next());
    assert_eq!(
        credentials.password_hash(user_id).await.unwrap(),
        Some(hash.clone())
    );
    assert_eq!(
        credentials.find_reset_token(&found.hash).await.unwrap(),
        None
    );

    let other =
        PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA");
    let again = credentials
        .redeem_reset_token(
            &found,
            &verified,
            &other,
            Timestamp::now(),
            &Outgoing::nothing(),
        )
        .await;
    assert!(matches!(again, Err(RedeemTokenError::TokenGone)));
    assert_eq!(
        credentials.password_hash(user_id).await.unwrap(),
        Some(hash),
        "unchanged"
    );
}

#[tokio::test]
async fn of_racing_redemptions_of_one_token_exactly_one_wins() {
    let (credentials, users) = fresh_credential_repositories().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let user_id = ada.id();
    let (_, saved) = record(&ada);
    credentials.save_reset_token(&saved).await.unwrap();
    let hashes: Vec<PasswordHash> = (0..6)
        .map(|n| PasswordHash::new(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$h{n}")))
        .collect();

    let nothing = Outgoing::nothing();
    let results = futures::future::join_all(hashes.iter().map(|hash| {
        credentials.redeem_reset_token(&saved, &ada, hash, Timestamp::now(), &nothing)
    }))
    .await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(
        credentials.password_hash(user_id).await.unwrap(),
        Some(hashes[winners[0]].clone())
    );
}

#[tokio::test]
async fn a_user_is_found_by_any_case_of_its_address_until_deleted() {
    let (_, users) = fresh_credential_repositories().await;
    let ada = user("Ada@Example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let by_email = |raw: &str| Email::parse(raw).unwrap();

    assert_eq!(
        users
            .find_by_email(&by_email("ada@example.COM"))
            .await
            .unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        users
            .find_by_email(&by_email("nobody@example.com"))
            .await
            .unwrap(),
        None
    );

    let mut deleted = ada.clone();
    deleted.delete().unwrap();
    users
        .update(&ada, deleted, &Outgoing::nothing())
        .await
        .unwrap();
    assert_eq!(
        users
            .find_by_email(&by_email("ada@example.com"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_redeemed_token_lifts_the_lockout_of_the_address_it_was_sent_to() {
    use application::credentials::LoginAttempts;
    let (credentials, users) = fresh_credential_repositories().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let now = Timestamp::now();
    application::fakes::lock_the_address(&credentials, ada.email(), now).await;
    let (_, saved) = record(&ada);
    credentials.save_reset_token(&saved).await.unwrap();
    let hash = Argon2Hasher::default()
        .hash(&Password::parse("correct horse battery").unwrap())
        .unwrap();
    credentials
        .redeem_reset_token(&saved, &ada, &hash, now, &Outgoing::nothing())
        .await
        .unwrap();
    assert_eq!(
        credentials.login_attempts(ada.email()).await.unwrap(),
        LoginAttempts::default(),
        "neither count nor lock is left"
    );
}

/// How many of `count` concurrent reservations at `now` were granted.
async fn granted_of_concurrent(
    credentials: &infrastructure::DynamoCredentialRepository,
    email: &Email,
    count: usize,
    now: Timestamp,
) -> usize {
    use application::credentials::Reservation;
    let reservations = (0..count).map(|_| credentials.reserve_login_attempt(email, now));
    futures::future::join_all(reservations)
        .await
        .into_iter()
        .filter(|reservation| matches!(reservation, Ok(Reservation::Granted(_))))
        .count()
}

#[tokio::test]
async fn of_many_concurrent_attempts_at_one_address_only_as_many_as_the_lockout_allows_are_granted()
{
    use application::credentials::{LoginAttempts, QUIET_SECONDS};
    let (credentials, _) = fresh_credential_repositories().await;
    let email = Email::parse("Nobody@Example.com").unwrap();
    let same = Email::parse("nobody@example.com").unwrap();
    assert_eq!(
        credentials.login_attempts(&email).await.unwrap(),
        LoginAttempts::default()
    );
    let now = Timestamp::now();
    assert_eq!(
        granted_of_concurrent(&credentials, &email, 20, now).await,
        5
    );
    let stored = credentials.login_attempts(&same).await.unwrap();
    assert_eq!(stored.failures, 5, "counted by the normalized address");
    assert_eq!(stored.locked_for(now), Some(1));

    let lifted = now.plus_seconds(1).unwrap();
    assert_eq!(
        granted_of_concurrent(&credentials, &same, 10, lifted).await,
        1,
        "one attempt per lock"
    );
    let stored = credentials.login_attempts(&same).await.unwrap();
    assert_eq!((stored.failures, stored.locked_for(lifted)), (6, Some(2)));

    let quiet = lifted.plus_seconds(QUIET_SECONDS).unwrap();
    assert_eq!(
        granted_of_concurrent(&credentials, &same, 3, quiet).await,
        3
    );
    assert_eq!(
        credentials.login_attempts(&same).await.unwrap().failures,
        3,
        "after a quiet spell the count starts again"
    );
}

#[tokio::test]
async fn a_new_reset_token_replaces_the_earlier_one_at_most_once_a_minute() {
    use application::ports::ResetTokenIssued;
    let (credentials, users) = fresh_credential_repositories().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let now = Timestamp::now();
    let (_, first) = record(&ada);
    assert_eq!(
        credentials
            .replace_reset_token(&first, now, &Outgoing::nothing())
            .await
            .unwrap(),
        ResetTokenIssued::Issued
    );
    let (_, soon) = record(&ada);
    let within = now.plus_seconds(59).unwrap();
    assert_eq!(
        credentials
            .replace_reset_token(&soon, within, &Outgoing::nothing())
            .await
            .unwrap(),
        ResetTokenIssued::TooSoon
    );
    assert_eq!(
        credentials.find_reset_token(&soon.hash).await.unwrap(),
        None
    );

    let (_, second) = record(&ada);
    let later = now.plus_seconds(60).unwrap();
    assert_eq!(
        credentials
            .replace_reset_token(&second, later, &Outgoing::nothing())
            .await
            .unwrap(),
        ResetTokenIssued::Issued
    );
    assert_eq!(
        credentials.find_reset_token(&first.hash).await.unwrap(),
        None
    );
    assert!(
        credentials
            .find_reset_token(&second.hash)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_token_of_a_suspended_user_redeems_nothing() {
    let (credentials, users) = fresh_credential_repositories().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let mut suspended = ada.clone();
    suspended.suspend().unwrap();
    users
        .update(&ada, suspended, &Outgoing::nothing())
        .await
        .unwrap();
    let (_, saved) = record(&ada);
    credentials.save_reset_token(&saved).await.unwrap();
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    let as_read = users.find(ada.id()).await.unwrap().unwrap();
    let result = credentials
        .redeem_reset_token(
            &saved,
            &as_read,
            &hash,
            Timestamp::now(),
            &Outgoing::nothing(),
        )
        .await;
    assert!(matches!(result, Err(RedeemTokenError::UserChanged)));
    assert_eq!(credentials.password_hash(ada.id()).await.unwrap(), None);
}
