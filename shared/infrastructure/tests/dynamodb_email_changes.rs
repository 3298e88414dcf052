//! Pending email changes against DynamoDB Local, held to the `EmailChangeRepository`
//! contract; and the reset token an email change voids.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{
    ApplyEmailChangeError, CredentialRepository, EmailChangeRecord, EmailChangeRepository,
    RedeemTokenError, ResetTokenRecord, ResetTokens, UserRepository,
};
use domain::{Email, PasswordHash, Timestamp, User};
use infrastructure::{DynamoUserRepository, OsResetTokens};
use support::{fresh_credential_repositories, user};

fn record(user: &User, to: &str) -> EmailChangeRecord {
    EmailChangeRecord {
        hash: OsResetTokens.issue().unwrap().hash,
        user_id: user.id(),
        new_email: Email::parse(to).unwrap(),
        expires_at: Timestamp::now().plus_seconds(3600).unwrap(),
    }
}

async fn registered(users: &DynamoUserRepository, email: &str) -> User {
    let user = user(email);
    users.insert(&user, &Outgoing::nothing()).await.unwrap();
    user
}

fn proved(user: &User, to: &Email) -> User {
    let mut updated = user.clone();
    updated.change_to_proved_email(to.clone()).unwrap();
    updated
}

#[tokio::test]
async fn a_change_is_applied_once_moving_the_claim_and_using_the_token_up() {
    let (_, users) = fresh_credential_repositories().await;
    let ada = registered(&users, "ada@example.com").await;
    let pending = record(&ada, "ada@lovelace.org");
    users
        .save_email_change(&pending, &Outgoing::nothing())
        .await
        .unwrap();

    let found = users
        .find_email_change(&pending.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.user_id, &found.new_email),
        (ada.id(), &pending.new_email)
    );
    let drift = found.expires_at.as_millis() - pending.expires_at.as_millis();
    assert!(
        (0..1000).contains(&drift),
        "whole seconds, rounded up: {drift} ms"
    );

    let moved = users
        .apply_email_change(
            &found,
            &ada,
            proved(&ada, &found.new_email),
            &Outgoing::nothing(),
        )
        .await
        .unwrap();
    assert_eq!(users.find(ada.id()).await.unwrap(), Some(moved.clone()));
    assert!(moved.email_verified());
    assert_eq!(
        users
            .find_by_email(&found.new_email)
            .await
            .unwrap()
            .map(|u| u.id()),
        Some(ada.id())
    );
    assert_eq!(
        users.find_by_email(ada.email()).await.unwrap(),
        None,
        "the old address is free"
    );
    assert_eq!(users.find_email_change(&pending.hash).await.unwrap(), None);

    let again = users
        .apply_email_change(
            &found,
            &moved,
            proved(&moved, &found.new_email),
            &Outgoing::nothing(),
        )
        .await;
    assert!(matches!(again, Err(ApplyEmailChangeError::TokenGone)));
}

#[tokio::test]
async fn a_later_request_voids_the_earlier_token() {
    let (_, users) = fresh_credential_repositories().await;
    let ada = registered(&users, "ada@example.com").await;
    let first = record(&ada, "ada@lovelace.org");
    let second = record(&ada, "ada@analytical.engine");
    users
        .save_email_change(&first, &Outgoing::nothing())
        .await
        .unwrap();
    users
        .save_email_change(&second, &Outgoing::nothing())
        .await
        .unwrap();
    assert_eq!(users.find_email_change(&first.hash).await.unwrap(), None);
    let applied = users
        .apply_email_change(
            &first,
            &ada,
            proved(&ada, &first.new_email),
            &Outgoing::nothing(),
        )
        .await;
    assert!(matches!(applied, Err(ApplyEmailChangeError::TokenGone)));
    assert_eq!(users.find(ada.id()).await.unwrap(), Some(ada));
}

#[tokio::test]
async fn an_address_taken_meanwhile_or_a_stale_user_changes_nothing() {
    let (_, users) = fresh_credential_repositories().await;
    let ada = registered(&users, "ada@example.com").await;
    let pending = record(&ada, "ada@lovelace.org");
    users
        .save_email_change(&pending, &Outgoing::nothing())
        .await
        .unwrap();
    let taker = registered(&users, "ADA@lovelace.org").await;

    let taken = users
        .apply_email_change(
            &pending,
            &ada,
            proved(&ada, &pending.new_email),
            &Outgoing::nothing(),
        )
        .await;
    assert!(matches!(taken, Err(ApplyEmailChangeError::EmailTaken)));
    assert_eq!(users.find(ada.id()).await.unwrap(), Some(ada.clone()));
    assert!(
        users
            .find_email_change(&pending.hash)
            .await
            .unwrap()
            .is_some(),
        "the token stays"
    );

    let mut deleted = taker.clone();
    deleted.delete().unwrap();
    users
        .update(&taker, deleted, &Outgoing::nothing())
        .await
        .unwrap();
    let stale = ada.clone().stored_at(ada.version().next());
    let conflict = users
        .apply_email_change(
            &pending,
            &stale,
            proved(&stale, &pending.new_email),
            &Outgoing::nothing(),
        )
        .await;
    assert!(matches!(
        conflict,
        Err(ApplyEmailChangeError::VersionConflict)
    ));
    assert!(
        users
            .apply_email_change(
                &pending,
                &ada,
                proved(&ada, &pending.new_email),
                &Outgoing::nothing()
            )
            .await
            .is_ok(),
        "the address freed, the current version: the change goes through"
    );
}

#[tokio::test]
async fn a_reset_token_sent_to_the_old_address_redeems_nothing_after_a_change() {
    let (credentials, users) = fresh_credential_repositories().await;
    let ada = registered(&users, "ada@example.com").await;
    let reset = ResetTokenRecord {
        hash: OsResetTokens.issue().unwrap().hash,
        user_id: ada.id(),
        sent_to: ada.email().clone(),
        expires_at: Timestamp::now().plus_seconds(3600).unwrap(),
    };
    credentials.save_reset_token(&reset).await.unwrap();
    let pending = record(&ada, "ada@lovelace.org");
    users
        .save_email_change(&pending, &Outgoing::nothing())
        .await
        .unwrap();
    users
        .apply_email_change(
            &pending,
            &ada,
            proved(&ada, &pending.new_email),
            &Outgoing::nothing(),
        )
        .await
        .unwrap();

    let hash =
        PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA");
    let moved = users.find(ada.id()).await.unwrap().unwrap();
    let redeemed = credentials
        .redeem_reset_token(
            &reset,
            &moved,
            &hash,
            Timestamp::now(),
            &Outgoing::nothing(),
        )
        .await;
    // The user no longer has the address the token went to (the use case reads it again).
    assert!(matches!(redeemed, Err(RedeemTokenError::UserChanged)));
    assert_eq!(credentials.password_hash(ada.id()).await.unwrap(), None);
}
