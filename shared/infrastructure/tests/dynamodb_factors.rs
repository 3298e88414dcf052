//! Second factors against DynamoDB Local: an enrolment is stored sealed and replaced while
//! unconfirmed; a confirmation turns the factor and the user on in one write, once, and only
//! from the version of the user it read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{
    ConfirmFactorError, SealedSecret, StartEnrolmentError, TokenHash, TotpEnrolment, TotpFactors,
    TotpStep, UserRepository,
};
use domain::{Timestamp, User};
use infrastructure::DynamoUserRepository;
use support::{fresh_repository, user};

fn enrolment(user: &User, secret: u8) -> TotpEnrolment {
    TotpEnrolment {
        user_id: user.id(),
        secret: SealedSecret::from_bytes(vec![secret; 40]),
        started_at: Timestamp::now(),
    }
}

fn codes() -> Vec<TokenHash> {
    (0..10)
        .map(|n| TokenHash::new(format!("hash-{n}")))
        .collect()
}

async fn turn_on(
    users: &DynamoUserRepository,
    enrolment: &TotpEnrolment,
    current: &User,
) -> Result<User, ConfirmFactorError> {
    let mut updated = current.clone();
    updated.set_mfa(true).unwrap();
    users
        .confirm(
            enrolment,
            TotpStep::new(7),
            &codes(),
            current,
            updated,
            &Outgoing::nothing(),
        )
        .await
}

#[tokio::test]
async fn an_enrolment_is_replaced_until_confirmed_and_then_the_factor_and_the_user_are_on() {
    let users = fresh_repository().await;
    let ada = user("factor@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    assert_eq!(users.totp(ada.id()).await.unwrap(), None);

    let first = enrolment(&ada, 1);
    users.start_enrolment(&first).await.unwrap();
    let second = enrolment(&ada, 2);
    users.start_enrolment(&second).await.unwrap();
    let stored = users.totp(ada.id()).await.unwrap().unwrap();
    assert_eq!(
        (stored.enrolment, stored.confirmed),
        (second.clone(), false)
    );

    assert!(matches!(
        turn_on(&users, &first, &ada).await,
        Err(ConfirmFactorError::EnrolmentChanged)
    ));
    let on = turn_on(&users, &second, &ada).await.unwrap();
    assert!(on.mfa_enabled());
    assert_eq!(users.find(ada.id()).await.unwrap(), Some(on.clone()));
    let stored = users.totp(ada.id()).await.unwrap().unwrap();
    assert!(stored.confirmed);
    assert_eq!(stored.last_step, Some(TotpStep::new(7)));
    let mut kept = stored.recovery_codes.clone();
    kept.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(kept, codes(), "a set: its order is the store's");

    assert!(matches!(
        users.start_enrolment(&enrolment(&ada, 3)).await,
        Err(StartEnrolmentError::FactorOn)
    ));
    assert!(matches!(
        turn_on(&users, &second, &on).await,
        Err(ConfirmFactorError::EnrolmentChanged)
    ));
}

#[tokio::test]
async fn a_confirmation_from_a_stale_user_changes_nothing() {
    let users = fresh_repository().await;
    let ada = user("stale-factor@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let mut renamed = ada.clone();
    renamed.revoke_sessions(Timestamp::now());
    users
        .update(&ada, renamed, &Outgoing::nothing())
        .await
        .unwrap();
    let pending = enrolment(&ada, 1);
    users.start_enrolment(&pending).await.unwrap();

    assert!(matches!(
        turn_on(&users, &pending, &ada).await,
        Err(ConfirmFactorError::UserChanged)
    ));
    let stored = users.totp(ada.id()).await.unwrap().unwrap();
    assert!(!stored.confirmed, "the factor stays off with the user");
    assert!(!users.find(ada.id()).await.unwrap().unwrap().mfa_enabled());
}

#[tokio::test]
async fn a_step_is_accepted_once_and_only_after_the_last_and_only_with_the_factor_on() {
    let users = fresh_repository().await;
    let ada = user("steps@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let pending = enrolment(&ada, 1);
    users.start_enrolment(&pending).await.unwrap();
    assert!(
        !users.accept_step(ada.id(), TotpStep::new(9)).await.unwrap(),
        "not while unconfirmed"
    );
    turn_on(&users, &pending, &ada).await.unwrap(); // its first code: step 7

    assert!(!users.accept_step(ada.id(), TotpStep::new(7)).await.unwrap());
    assert!(!users.accept_step(ada.id(), TotpStep::new(6)).await.unwrap());
    assert!(users.accept_step(ada.id(), TotpStep::new(8)).await.unwrap());
    assert!(
        !users.accept_step(ada.id(), TotpStep::new(8)).await.unwrap(),
        "the same code again"
    );
    let racing =
        futures::future::join_all((0..5).map(|_| users.accept_step(ada.id(), TotpStep::new(9))))
            .await;
    let accepted = racing
        .into_iter()
        .filter(|outcome| *outcome.as_ref().unwrap())
        .count();
    assert_eq!(accepted, 1, "one of five racing uses of a code wins");
}

#[tokio::test]
async fn a_recovery_code_works_once_and_the_last_one_leaves_none() {
    let users = fresh_repository().await;
    let ada = user("recovery@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let pending = enrolment(&ada, 1);
    users.start_enrolment(&pending).await.unwrap();
    turn_on(&users, &pending, &ada).await.unwrap();

    let first = TokenHash::new("hash-0");
    assert!(users.use_recovery_code(ada.id(), &first).await.unwrap());
    assert!(!users.use_recovery_code(ada.id(), &first).await.unwrap());
    assert!(
        !users
            .use_recovery_code(ada.id(), &TokenHash::new("unknown"))
            .await
            .unwrap()
    );
    for n in 1..10 {
        let code = TokenHash::new(format!("hash-{n}"));
        assert!(users.use_recovery_code(ada.id(), &code).await.unwrap());
    }
    let stored = users.totp(ada.id()).await.unwrap().unwrap();
    assert!(stored.recovery_codes.is_empty() && stored.confirmed);
}

#[tokio::test]
async fn new_recovery_codes_replace_the_set_only_while_the_factor_is_on() {
    let users = fresh_repository().await;
    let ada = user("replace-codes@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let pending = enrolment(&ada, 1);
    users.start_enrolment(&pending).await.unwrap();
    let fresh = [TokenHash::new("new-0"), TokenHash::new("new-1")];
    assert!(
        !users
            .replace_recovery_codes(ada.id(), &fresh)
            .await
            .unwrap(),
        "not while unconfirmed"
    );
    turn_on(&users, &pending, &ada).await.unwrap();
    assert!(
        users
            .replace_recovery_codes(ada.id(), &fresh)
            .await
            .unwrap()
    );
    let stored = users.totp(ada.id()).await.unwrap().unwrap();
    let mut codes = stored.recovery_codes;
    codes.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(codes, fresh);
    assert!(
        !users
            .use_recovery_code(ada.id(), &TokenHash::new("hash-0"))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn removing_the_factor_deletes_it_and_stores_the_user_in_one_write_from_its_version() {
    let users = fresh_repository().await;
    let ada = user("remove-factor@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let pending = enrolment(&ada, 1);
    users.start_enrolment(&pending).await.unwrap();
    let on = turn_on(&users, &pending, &ada).await.unwrap();

    let mut off = on.clone();
    off.set_mfa(false).unwrap();
    off.revoke_sessions(Timestamp::now());
    let stale = users.remove(&ada, off.clone(), &Outgoing::nothing()).await;
    assert!(matches!(stale, Err(ConfirmFactorError::UserChanged)));
    assert!(
        users.totp(ada.id()).await.unwrap().is_some(),
        "nothing written"
    );

    let stored = users.remove(&on, off, &Outgoing::nothing()).await.unwrap();
    assert!(!stored.mfa_enabled());
    assert_eq!(users.find(ada.id()).await.unwrap(), Some(stored));
    assert_eq!(users.totp(ada.id()).await.unwrap(), None);
    users.start_enrolment(&enrolment(&ada, 3)).await.unwrap();
}
