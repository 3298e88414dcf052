//! The DynamoDB user repository against DynamoDB Local, held to the `UserRepository` contract.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{
    Cursor, InsertUserError, PageError, PageLimit, RepositoryError, StatusFilter, UpdateUserError,
    UserListQuery, UserRepository,
};
use domain::{Email, User, UserId, UserStatus, Version};
use futures::future::join_all;
use infrastructure::DynamoUserRepository;
use support::{fresh_repository, user};

async fn stored(users: &DynamoUserRepository, id: UserId) -> User {
    users.find(id).await.unwrap().expect("the user is stored")
}

#[tokio::test]
async fn an_inserted_user_reads_back_field_for_field() {
    let users = fresh_repository().await;
    let mut ada = user("Ada@Example.com");
    ada.record_login(domain::Timestamp::now()).unwrap();
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    assert_eq!(stored(&users, ada.id()).await, ada);
    assert_eq!(users.find(UserId::generate()).await.unwrap(), None);
}

#[tokio::test]
async fn a_second_user_with_the_same_address_in_another_case_is_refused_and_not_stored() {
    let users = fresh_repository().await;
    users
        .insert(&user("ada@example.com"), &Outgoing::nothing())
        .await
        .unwrap();
    let twin = user("ADA@example.COM");
    assert!(matches!(
        users.insert(&twin, &Outgoing::nothing()).await,
        Err(InsertUserError::EmailTaken)
    ));
    assert_eq!(users.find(twin.id()).await.unwrap(), None);
}

#[tokio::test]
async fn racing_registrations_of_one_address_let_exactly_one_win() {
    let users = fresh_repository().await;
    let contenders: Vec<User> = (0..8).map(|_| user("race@example.com")).collect();
    let nothing = Outgoing::nothing();
    let results = join_all(
        contenders
            .iter()
            .map(|contender| users.insert(contender, &nothing)),
    )
    .await;
    let winners = results.iter().filter(|result| result.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| matches!(r, Err(InsertUserError::EmailTaken)))
        .count();
    assert_eq!((winners, taken), (1, 7));
}

#[tokio::test]
async fn an_update_from_a_stale_read_is_a_version_conflict_and_changes_nothing() {
    let users = fresh_repository().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();

    let mut suspended = ada.clone();
    suspended.suspend().unwrap();
    let first = users
        .update(&ada, suspended, &Outgoing::nothing())
        .await
        .unwrap();
    assert_eq!(first.version(), Version::new(2));

    let mut stale = ada.clone();
    stale.record_login(domain::Timestamp::now()).unwrap();
    assert!(matches!(
        users.update(&ada, stale, &Outgoing::nothing()).await,
        Err(UpdateUserError::VersionConflict)
    ));
    assert_eq!(stored(&users, ada.id()).await, first);
}

#[tokio::test]
async fn racing_updates_from_one_read_let_exactly_one_win() {
    let users = fresh_repository().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let nothing = Outgoing::nothing();
    let attempts = (0..6).map(|n| {
        let mut changed = ada.clone();
        changed
            .change_email(Email::parse(&format!("ada{n}@example.com")).unwrap())
            .unwrap();
        users.update(&ada, changed, &nothing)
    });
    let results = join_all(attempts).await;
    assert_eq!(results.iter().filter(|result| result.is_ok()).count(), 1);
    let winner = results.into_iter().find_map(Result::ok).unwrap();
    assert_eq!(stored(&users, ada.id()).await, winner);
}

#[tokio::test]
async fn an_email_change_moves_the_claim() {
    let users = fresh_repository().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let mut moved = ada.clone();
    moved
        .change_email(Email::parse("ada@lovelace.org").unwrap())
        .unwrap();
    users
        .update(&ada, moved, &Outgoing::nothing())
        .await
        .unwrap();

    assert!(
        users
            .insert(&user("ADA@example.com"), &Outgoing::nothing())
            .await
            .is_ok(),
        "the old address is free"
    );
    assert!(matches!(
        users
            .insert(&user("ada@Lovelace.org"), &Outgoing::nothing())
            .await,
        Err(InsertUserError::EmailTaken)
    ));
}

#[tokio::test]
async fn an_email_change_to_a_taken_address_is_refused_and_changes_nothing() {
    let users = fresh_repository().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    users
        .insert(&user("grace@example.com"), &Outgoing::nothing())
        .await
        .unwrap();
    let mut grabbing = ada.clone();
    grabbing
        .change_email(Email::parse("Grace@example.com").unwrap())
        .unwrap();

    assert!(matches!(
        users.update(&ada, grabbing, &Outgoing::nothing()).await,
        Err(UpdateUserError::EmailTaken)
    ));
    assert_eq!(stored(&users, ada.id()).await, ada);
    assert!(matches!(
        users
            .insert(&user("ada@example.com"), &Outgoing::nothing())
            .await,
        Err(InsertUserError::EmailTaken)
    ));
}

#[tokio::test]
async fn a_case_only_change_keeps_the_claim_and_the_new_spelling() {
    let users = fresh_repository().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let mut recased = ada.clone();
    recased
        .change_email(Email::parse("Ada@Example.com").unwrap())
        .unwrap();
    let stored_user = users
        .update(&ada, recased, &Outgoing::nothing())
        .await
        .unwrap();
    assert_eq!(stored_user.email().as_str(), "Ada@Example.com");
    assert!(
        users
            .insert(&user("ada@example.com"), &Outgoing::nothing())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_soft_deleted_user_stays_and_releases_its_address() {
    let users = fresh_repository().await;
    let ada = user("ada@example.com");
    users.insert(&ada, &Outgoing::nothing()).await.unwrap();
    let mut deleted = ada.clone();
    deleted.delete().unwrap();
    users
        .update(&ada, deleted, &Outgoing::nothing())
        .await
        .unwrap();

    assert_eq!(stored(&users, ada.id()).await.status(), UserStatus::Deleted);
    assert!(
        users
            .insert(&user("ada@example.com"), &Outgoing::nothing())
            .await
            .is_ok()
    );
}

fn query(status: StatusFilter, limit: &str, cursor: Option<Cursor>) -> UserListQuery {
    UserListQuery {
        status,
        limit: PageLimit::parse(limit).unwrap(),
        cursor,
    }
}

async fn list_all(users: &DynamoUserRepository, status: StatusFilter, limit: &str) -> Vec<UserId> {
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = users.list(&query(status, limit, cursor)).await.unwrap();
        pages += 1;
        assert!(pages < 100, "paging must end");
        assert!(page.items.len() <= PageLimit::parse(limit).unwrap().get());
        seen.extend(page.items.iter().map(User::id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn paging_returns_every_matching_user_once_newest_first() {
    let users = fresh_repository().await;
    let mut live = Vec::new();
    let mut suspended = Vec::new();
    let mut deleted = Vec::new();
    for n in 0..23 {
        let fresh = user(&format!("user{n}@example.com"));
        users.insert(&fresh, &Outgoing::nothing()).await.unwrap();
        let mut changed = fresh.clone();
        match n % 4 {
            1 => {
                changed.suspend().unwrap();
                users
                    .update(&fresh, changed, &Outgoing::nothing())
                    .await
                    .unwrap();
                suspended.push(fresh.id());
                live.push(fresh.id());
            }
            2 => {
                changed.delete().unwrap();
                users
                    .update(&fresh, changed, &Outgoing::nothing())
                    .await
                    .unwrap();
                deleted.push(fresh.id());
            }
            _ => live.push(fresh.id()),
        }
    }
    for ids in [&mut live, &mut suspended, &mut deleted] {
        ids.reverse();
    }

    assert_eq!(list_all(&users, StatusFilter::NotDeleted, "5").await, live);
    assert_eq!(
        list_all(&users, StatusFilter::NotDeleted, "17").await,
        live,
        "exact multiple"
    );
    assert_eq!(
        list_all(&users, StatusFilter::NotDeleted, "100").await,
        live
    );
    assert_eq!(
        list_all(&users, StatusFilter::Only(UserStatus::Suspended), "2").await,
        suspended
    );
    assert_eq!(
        list_all(&users, StatusFilter::Only(UserStatus::Deleted), "1").await,
        deleted
    );
}

#[tokio::test]
async fn a_cursor_only_works_for_the_listing_that_issued_it() {
    let users = fresh_repository().await;
    for n in 0..3 {
        users
            .insert(&user(&format!("u{n}@example.com")), &Outgoing::nothing())
            .await
            .unwrap();
    }
    let page = users
        .list(&query(StatusFilter::NotDeleted, "1", None))
        .await
        .unwrap();
    let cursor = page.next_cursor.expect("more pages");

    let other = query(
        StatusFilter::Only(UserStatus::Active),
        "1",
        Some(cursor.clone()),
    );
    assert!(matches!(
        users.list(&other).await,
        Err(PageError::InvalidCursor)
    ));
    let forged = query(
        StatusFilter::NotDeleted,
        "1",
        Some(Cursor::new("eyJsaXN0aW5nIjoibGl2ZSJ9")),
    );
    assert!(matches!(
        users.list(&forged).await,
        Err(PageError::InvalidCursor)
    ));
    let same = query(StatusFilter::NotDeleted, "1", Some(cursor));
    assert!(users.list(&same).await.is_ok());
}

#[tokio::test]
async fn an_unreachable_store_is_unavailable_not_a_failure() {
    let client = support::dynamodb_at("http://127.0.0.1:9").await;
    let users = DynamoUserRepository::new(client, "nowhere");
    assert!(matches!(
        users.find(UserId::generate()).await,
        Err(RepositoryError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_missing_table_is_a_failure_not_a_retryable_outage() {
    let client = support::dynamodb_at(&support::dynamodb_url()).await;
    let users = DynamoUserRepository::new(client, "no-such-table");
    assert!(matches!(
        users.find(UserId::generate()).await,
        Err(RepositoryError::Failed(_))
    ));
}

/// `email` registered, then promoted (as `admin promote` does): an active admin, counted.
async fn promoted(users: &DynamoUserRepository, email: &str) -> User {
    let registered = user(email);
    users
        .insert(&registered, &Outgoing::nothing())
        .await
        .unwrap();
    let mut admin = registered.clone();
    admin.change_role(domain::Role::Admin).unwrap();
    users
        .update(&registered, admin, &Outgoing::nothing())
        .await
        .unwrap()
}

/// Writes `change` of `current` until it is not a lost race: its final outcome.
async fn settle(
    users: &DynamoUserRepository,
    mut current: User,
    change: fn(&mut User),
) -> Result<User, UpdateUserError> {
    loop {
        let mut updated = current.clone();
        change(&mut updated);
        match users.update(&current, updated, &Outgoing::nothing()).await {
            Err(UpdateUserError::VersionConflict) => current = stored(users, current.id()).await,
            outcome => return outcome,
        }
    }
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_taken_away_even_by_racing_writes() {
    let users = fresh_repository().await;
    let (ada, grace) = (
        promoted(&users, "ada@example.com").await,
        promoted(&users, "grace@example.com").await,
    );
    let demote = |user: &mut User| {
        user.change_role(domain::Role::User).unwrap();
    };
    let suspend = |user: &mut User| {
        user.suspend().unwrap();
    };
    // Each write alone would be fine; together they would leave no admin.
    let (first, second) = futures::join!(
        settle(&users, ada.clone(), demote),
        settle(&users, grace.clone(), suspend)
    );
    let refused = [&first, &second]
        .iter()
        .filter(|outcome| matches!(outcome, Err(UpdateUserError::LastAdmin)))
        .count();
    assert_eq!(refused, 1, "{first:?} / {second:?}");
    assert_eq!(
        [&first, &second]
            .iter()
            .filter(|outcome| outcome.is_ok())
            .count(),
        1
    );
    let survivor = if first.is_ok() { &grace } else { &ada };
    let survivor = stored(&users, survivor.id()).await;
    assert!(survivor.is_active_admin());

    for change in [demote, suspend, |user: &mut User| user.delete().unwrap()] {
        let outcome = settle(&users, survivor.clone(), change).await;
        assert!(matches!(outcome, Err(UpdateUserError::LastAdmin)));
    }
    let another = promoted(&users, "another@example.com").await;
    assert!(another.is_active_admin());
    assert!(
        settle(&users, survivor, suspend).await.is_ok(),
        "with another admin, the former last one may go"
    );
}
