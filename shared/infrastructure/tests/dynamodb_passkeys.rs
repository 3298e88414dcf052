//! Passkeys and WebAuthn ceremonies against DynamoDB Local, held to the `PasskeyStore`
//! contract: a credential registers once, a ceremony is taken once, a counter moves on once
//! from the value read.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{
    CredentialId, Passkey, PasskeyCredential, PasskeyStore, PasskeyWriteError, PendingCeremony,
    UserRepository,
};
use domain::{CeremonyId, PasskeyId, PasskeyName, Timestamp, User};
use infrastructure::DynamoUserRepository;
use support::{fresh_repository, user};

fn passkey(owner: &User, credential: &[u8], name: &str) -> Passkey {
    Passkey {
        id: PasskeyId::generate(),
        name: PasskeyName::parse(name).unwrap(),
        credential: PasskeyCredential {
            id: CredentialId::new(credential.to_vec()),
            user_id: owner.id(),
            static_state: vec![1, 2, 3],
            dynamic_state: vec![0; 7],
        },
        created_at: Timestamp::now(),
        last_used_at: None,
    }
}

/// The passkey's owner as stored now.
async fn owner_of(users: &DynamoUserRepository, passkey: &Passkey) -> User {
    users
        .find(passkey.credential.user_id)
        .await
        .unwrap()
        .unwrap()
}

/// Adds `passkey` for its owner as stored now.
async fn add(users: &DynamoUserRepository, passkey: &Passkey) -> Result<(), PasskeyWriteError> {
    let owner = owner_of(users, passkey).await;
    users.add(passkey, &owner, &Outgoing::nothing()).await
}

/// Removes `passkey` for its owner as stored now: whether it was there.
async fn remove(users: &DynamoUserRepository, passkey: &Passkey) -> bool {
    let owner = owner_of(users, passkey).await;
    users
        .remove(passkey, &owner, &Outgoing::nothing())
        .await
        .unwrap()
}

async fn with_user(email: &str) -> (DynamoUserRepository, User) {
    let users = fresh_repository().await;
    let owner = user(email);
    users.insert(&owner, &Outgoing::nothing()).await.unwrap();
    (users, owner)
}

#[tokio::test]
async fn a_passkey_is_listed_found_by_its_credential_and_registered_once() {
    let (users, ada) = with_user("passkeys@example.com").await;
    assert!(users.passkeys(ada.id()).await.unwrap().is_empty());
    let laptop = passkey(&ada, &[7; 32], "Laptop");
    let phone = passkey(&ada, &[8; 64], "Phone");
    add(&users, &laptop).await.unwrap();
    add(&users, &phone).await.unwrap();
    let listed = users.passkeys(ada.id()).await.unwrap();
    assert_eq!(listed, vec![laptop.clone(), phone.clone()], "oldest first");
    assert_eq!(
        users.by_credential(&laptop.credential.id).await.unwrap(),
        Some(laptop.clone())
    );
    assert_eq!(
        users
            .by_credential(&CredentialId::new(vec![9; 16]))
            .await
            .unwrap(),
        None
    );

    let grace = user("grace-passkeys@example.com");
    users.insert(&grace, &Outgoing::nothing()).await.unwrap();
    let copy = passkey(&grace, &[7; 32], "Copy");
    assert!(matches!(
        add(&users, &copy).await,
        Err(PasskeyWriteError::CredentialTaken)
    ));
    assert!(users.passkeys(grace.id()).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_removed_passkey_is_gone_with_its_credential_and_can_register_again() {
    let (users, ada) = with_user("passkey-removal@example.com").await;
    let laptop = passkey(&ada, &[5; 16], "Laptop");
    add(&users, &laptop).await.unwrap();
    assert!(remove(&users, &laptop).await);
    assert!(!remove(&users, &laptop).await);
    assert_eq!(
        users.by_credential(&laptop.credential.id).await.unwrap(),
        None
    );
    assert!(users.passkeys(ada.id()).await.unwrap().is_empty());
    let again = passkey(&ada, &[5; 16], "Again");
    add(&users, &again).await.unwrap();
}

#[tokio::test]
async fn a_counter_moves_on_once_from_the_value_read() {
    let (users, ada) = with_user("passkey-counter@example.com").await;
    let laptop = passkey(&ada, &[3; 16], "Laptop");
    add(&users, &laptop).await.unwrap();
    let at = Timestamp::now();
    let states: Vec<[u8; 7]> = (1u8..=5).map(|counter| [counter; 7]).collect();
    let racing = futures::future::join_all(
        states
            .iter()
            .map(|state| users.record_use(&laptop, state, at)),
    )
    .await;
    let recorded = racing
        .into_iter()
        .filter(|won| *won.as_ref().unwrap())
        .count();
    assert_eq!(recorded, 1, "one of five racing sign-ins moves the counter");
    let stored = users
        .by_credential(&laptop.credential.id)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        stored.credential.dynamic_state,
        laptop.credential.dynamic_state
    );
    assert_eq!(stored.last_used_at, Some(at));
}

#[tokio::test]
async fn a_ceremony_is_taken_once() {
    let users = fresh_repository().await;
    let ceremony = PendingCeremony {
        id: CeremonyId::generate(),
        user_id: None,
        state: vec![42; 75],
        started_at: Timestamp::now(),
    };
    users.start_ceremony(&ceremony).await.unwrap();
    let taken = futures::future::join_all((0..3).map(|_| users.take_ceremony(ceremony.id))).await;
    let got: Vec<_> = taken
        .into_iter()
        .filter_map(|taken| taken.unwrap())
        .collect();
    assert_eq!(got, vec![ceremony]);
    let registration = PendingCeremony {
        id: CeremonyId::generate(),
        user_id: Some(domain::UserId::generate()),
        state: vec![1; 75],
        started_at: Timestamp::now(),
    };
    users.start_ceremony(&registration).await.unwrap();
    assert_eq!(
        users.take_ceremony(registration.id).await.unwrap(),
        Some(registration)
    );
}

#[tokio::test]
async fn a_passkey_moves_its_owner_to_the_next_version_and_a_stale_owner_writes_nothing() {
    let (users, ada) = with_user("passkey-versions@example.com").await;
    let laptop = passkey(&ada, &[4; 16], "Laptop");
    users
        .add(&laptop, &ada, &Outgoing::nothing())
        .await
        .unwrap();
    let after_add = owner_of(&users, &laptop).await;
    assert_eq!(after_add.version(), ada.version().next());

    let phone = passkey(&ada, &[6; 16], "Phone");
    assert!(matches!(
        users.add(&phone, &ada, &Outgoing::nothing()).await,
        Err(PasskeyWriteError::UserChanged)
    ));
    assert!(matches!(
        users.remove(&laptop, &ada, &Outgoing::nothing()).await,
        Err(PasskeyWriteError::UserChanged)
    ));
    assert_eq!(
        users.passkeys(ada.id()).await.unwrap(),
        vec![laptop.clone()]
    );

    let mut suspended = after_add.clone();
    suspended.suspend().unwrap();
    let suspended = users
        .update(&after_add, suspended, &Outgoing::nothing())
        .await
        .unwrap();
    assert!(
        matches!(
            users.add(&phone, &suspended, &Outgoing::nothing()).await,
            Err(PasskeyWriteError::UserChanged)
        ),
        "a suspended user registers nothing"
    );
    assert!(
        users
            .remove(&laptop, &suspended, &Outgoing::nothing())
            .await
            .unwrap(),
        "an admin may still remove a suspended user's passkey"
    );
    assert_eq!(
        owner_of(&users, &laptop).await.version(),
        suspended.version().next()
    );
}
