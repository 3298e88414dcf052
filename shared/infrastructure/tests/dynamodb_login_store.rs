//! A login's batched reads and its one write against DynamoDB Local, held to the
//! `LoginStore` contract.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::credentials::{LoginAttempts, Reservation};
use application::ports::Outgoing;
use application::ports::{
    AddressRecord, CredentialRepository, LoginStore, MfaChallenge, RecordLoginError,
    ResetTokenRecord, ResetTokens, SessionRepository, TokenHash, UserRepository,
};
use domain::{Email, PasswordHash, Timestamp};
use infrastructure::{
    DynamoCredentialRepository, DynamoSessionRepository, DynamoUserRepository, OsResetTokens,
};
use support::{fresh_credential_repositories, fresh_table, new_session, user};

async fn one_failure(credentials: &DynamoCredentialRepository, email: &Email) {
    let reservation = credentials
        .reserve_login_attempt(email, Timestamp::now())
        .await
        .unwrap();
    assert!(matches!(reservation, Reservation::Granted(_)));
}

#[tokio::test]
async fn an_address_reserves_the_attempt_and_reads_its_holder() {
    let (credentials, users) = fresh_credential_repositories().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let email = Email::parse("ADA@example.com").unwrap();
    let now = Timestamp::now();
    let first = LoginAttempts::default().after_failure(now);
    assert_eq!(
        users.address(&email, now).await.unwrap(),
        AddressRecord {
            reservation: Reservation::Granted(first),
            holder: Some(ada.id()),
        }
    );
    assert_eq!(credentials.login_attempts(&email).await.unwrap(), first);

    let nobody = Email::parse("nobody@example.com").unwrap();
    one_failure(&credentials, &nobody).await;
    let second = users.address(&nobody, now).await.unwrap();
    assert_eq!(second.holder, None);
    assert!(
        matches!(second.reservation, Reservation::Granted(counted) if counted.failures == 2),
        "an unknown address counts too"
    );
}

#[tokio::test]
async fn a_user_is_read_with_its_password() {
    let (credentials, users) = fresh_credential_repositories().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    assert_eq!(
        users.user_and_password(ada.id()).await.unwrap(),
        (Some(ada.clone()), None)
    );
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    let issued = OsResetTokens.issue().unwrap();
    let token = ResetTokenRecord {
        hash: issued.hash,
        user_id: ada.id(),
        sent_to: ada.email().clone(),
        expires_at: Timestamp::now().plus_seconds(3600).unwrap(),
    };
    credentials.save_reset_token(&token).await.unwrap();
    let now = Timestamp::now();
    credentials
        .redeem_reset_token(&token, &ada, &hash, now, &Outgoing::nothing())
        .await
        .unwrap();
    let with_password = users.find(ada.id()).await.unwrap();
    assert_eq!(
        users.user_and_password(ada.id()).await.unwrap(),
        (with_password, Some(hash))
    );
    let stranger = user("grace@example.com");
    assert_eq!(
        users.user_and_password(stranger.id()).await.unwrap(),
        (None, None)
    );
}

#[tokio::test]
async fn a_login_records_the_user_stores_the_token_and_forgets_the_failures_at_once() {
    let (client, table) = fresh_table().await;
    let users = DynamoUserRepository::new(client.clone(), table.clone());
    let credentials = DynamoCredentialRepository::new(client.clone(), table.clone());
    let sessions = DynamoSessionRepository::new(client, table);
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    one_failure(&credentials, ada.email()).await;

    let mut logged_in = ada.clone();
    logged_in.record_login(Timestamp::now()).unwrap();
    let (session, token) = new_session(&ada);
    let stored = users
        .record_login(&ada, logged_in, &session, &token, ada.email(), None)
        .await
        .unwrap();
    assert_eq!(users.find(ada.id()).await.unwrap(), Some(stored.clone()));
    assert_eq!(sessions.find(&token.hash).await.unwrap(), Some(token));
    assert_eq!(
        credentials.login_attempts(ada.email()).await.unwrap(),
        LoginAttempts::default()
    );

    // Against the version read before that write: nothing is written.
    one_failure(&credentials, ada.email()).await;
    let mut again = ada.clone();
    again.record_login(Timestamp::now()).unwrap();
    let (late_session, late) = new_session(&ada);
    let stale = users
        .record_login(&ada, again, &late_session, &late, ada.email(), None)
        .await;
    assert!(matches!(stale, Err(RecordLoginError::UserChanged)));
    assert_eq!(users.find(ada.id()).await.unwrap(), Some(stored));
    assert_eq!(sessions.find(&late.hash).await.unwrap(), None);
    assert_eq!(
        credentials
            .login_attempts(ada.email())
            .await
            .unwrap()
            .failures,
        1,
        "the failures stay"
    );
}

#[tokio::test]
async fn a_challenge_is_read_back_and_used_up_by_the_login_that_finishes_it_once() {
    let (client, table) = fresh_table().await;
    let users = DynamoUserRepository::new(client.clone(), table.clone());
    let sessions = DynamoSessionRepository::new(client, table);
    let ada = user("two-step@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let challenge = MfaChallenge {
        hash: TokenHash::new("challenge-hash"),
        user_id: ada.id(),
        address: ada.email().clone(),
        issued_at: Timestamp::now(),
    };
    users.issue_challenge(&challenge).await.unwrap();
    assert_eq!(
        users.challenge(&challenge.hash).await.unwrap(),
        Some(challenge.clone())
    );
    assert_eq!(
        users.challenge(&TokenHash::new("unknown")).await.unwrap(),
        None
    );

    let mut logged_in = ada.clone();
    logged_in.record_login(Timestamp::now()).unwrap();
    let (session, token) = new_session(&ada);
    let stored = users
        .record_login(
            &ada,
            logged_in,
            &session,
            &token,
            ada.email(),
            Some(&challenge.hash),
        )
        .await
        .unwrap();
    assert_eq!(users.challenge(&challenge.hash).await.unwrap(), None);

    // A second finish of the same challenge writes nothing.
    let mut again = stored.clone();
    again.record_login(Timestamp::now()).unwrap();
    let (late_session, late) = new_session(&ada);
    let twice = users
        .record_login(
            &stored,
            again,
            &late_session,
            &late,
            ada.email(),
            Some(&challenge.hash),
        )
        .await;
    assert!(matches!(twice, Err(RecordLoginError::ChallengeUsed)));
    assert_eq!(users.find(ada.id()).await.unwrap(), Some(stored));
    assert_eq!(sessions.find(&late.hash).await.unwrap(), None);
}
