//! The listing indexes against DynamoDB Local: which writes write an index item (the consumed
//! capacity DynamoDB reports per index, `ReturnConsumedCapacity=INDEXES`), and sharded
//! listings paged to the end.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{
    Cursor, LoginStore, PageLimit, SessionRepository, StatusFilter, UserListQuery, UserRepository,
};
use domain::{Email, Role, Timestamp, User, UserId, UserStatus};
use infrastructure::index_writes::{IndexWrite, IndexWriteRecorder};
use infrastructure::{DynamoSessionRepository, DynamoUserRepository, ListingShards, table};
use proptest::prelude::*;
use support::{dynamodb_url, new_session, next_token, sdk_config, user};

struct Recorded {
    recorder: IndexWriteRecorder,
    users: DynamoUserRepository,
    sessions: DynamoSessionRepository,
}

/// A table of its own whose client records what every write cost the indexes.
async fn recorded(shards: ListingShards) -> Recorded {
    let recorder = IndexWriteRecorder::in_memory();
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config().await)
        .endpoint_url(dynamodb_url())
        .interceptor(recorder.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let name = format!("test-{}", uuid::Uuid::new_v4());
    table::create(&client, &name).await.unwrap();
    Recorded {
        recorder,
        users: DynamoUserRepository::new(client.clone(), name.clone()).with_listing_shards(shards),
        sessions: DynamoSessionRepository::new(client, name),
    }
}

impl Recorded {
    /// The index units of the writes since the last look, with the writes for messages.
    fn index_units(&self) -> (f64, Vec<IndexWrite>) {
        let writes = self.recorder.take();
        assert!(!writes.is_empty(), "the step wrote something");
        (writes.iter().map(IndexWrite::total).sum(), writes)
    }

    async fn update(&self, current: &User, change: impl FnOnce(&mut User)) -> User {
        let mut updated = current.clone();
        change(&mut updated);
        self.users
            .update(current, updated, &Outgoing::nothing())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn only_a_write_that_changes_a_users_listings_writes_an_index_item() {
    let table = recorded(ListingShards::DEFAULT).await;
    let ada = user("ada-indexes@example.com");
    table
        .users
        .insert(&ada, &Outgoing::nothing())
        .await
        .unwrap();
    // A transaction's writes cost twice a single write's units.
    let (units, writes) = table.index_units();
    assert_eq!(
        writes[0].units,
        [
            ("live_users".to_owned(), 2.0),
            ("users_by_status".to_owned(), 2.0)
        ]
        .into(),
        "a registration (a transaction): one item in each listing"
    );
    assert_eq!(units, 4.0);
    let partitions = &writes[0].partitions;
    assert!(
        partitions
            .iter()
            .any(|key| key.starts_with("STATUS#active#"))
            && partitions.iter().any(|key| key.starts_with("LIVE#")),
        "{partitions:?}"
    );

    let (session, first) = new_session(&ada);
    let mut signed_in = ada.clone();
    signed_in.record_login(Timestamp::now()).unwrap();
    let ada = table
        .users
        .record_login(&ada, signed_in, &session, &first, ada.email(), None)
        .await
        .unwrap();
    assert_eq!(table.index_units().0, 0.0, "a login");

    let later = Timestamp::now().plus_seconds(60).unwrap();
    table
        .sessions
        .rotate(&first, &next_token(&first), later)
        .await
        .unwrap();
    assert_eq!(table.index_units().0, 0.0, "a refresh");

    let ada = table
        .update(&ada, |user| user.record_login(later).unwrap())
        .await;
    assert_eq!(table.index_units().0, 0.0, "a recorded login");
    let new_address = Email::parse("ada-renamed@example.com").unwrap();
    let ada = table
        .update(&ada, |user| {
            user.change_email(new_address).unwrap();
        })
        .await;
    assert_eq!(table.index_units().0, 0.0, "an email change");
    let ada = table
        .update(&ada, |user| {
            user.change_role(Role::Admin).unwrap();
        })
        .await;
    assert_eq!(table.index_units().0, 0.0, "a role change");
    let ada = table
        .update(&ada, |user| {
            user.set_mfa(true).unwrap();
            user.revoke_sessions(later);
        })
        .await;
    assert_eq!(
        table.index_units().0,
        0.0,
        "a second factor, a sign-out everywhere"
    );

    // Another admin, so this one may be a user again.
    let grace = user("grace-indexes@example.com");
    table
        .users
        .insert(&grace, &Outgoing::nothing())
        .await
        .unwrap();
    table
        .update(&grace, |user| {
            user.change_role(Role::Admin).unwrap();
        })
        .await;
    table.recorder.take();
    let ada = table
        .update(&ada, |user| {
            user.change_role(Role::User).unwrap();
        })
        .await;
    assert_eq!(table.index_units().0, 0.0, "a role change back");
    let ada = table
        .update(&ada, |user| {
            user.suspend().unwrap();
        })
        .await;
    let (_, writes) = table.index_units();
    assert_eq!(
        writes[0].units,
        [("users_by_status".to_owned(), 2.0)].into(),
        "a suspension (one put) moves the user in users_by_status: out of a key, into another"
    );
    table.update(&ada, |user| user.delete().unwrap()).await;
    let (_, writes) = table.index_units();
    assert_eq!(
        writes[0].units,
        [
            ("live_users".to_owned(), 2.0),
            ("users_by_status".to_owned(), 4.0)
        ]
        .into(),
        "a deletion (a transaction, with the address's claim) moves it in users_by_status and \
         takes it out of live_users"
    );
}

fn query(status: StatusFilter, limit: usize, cursor: Option<Cursor>) -> UserListQuery {
    UserListQuery {
        status,
        limit: PageLimit::parse(&limit.to_string()).unwrap(),
        cursor,
    }
}

/// Every page of a listing, in order, and the size of each.
async fn pages(
    users: &DynamoUserRepository,
    status: StatusFilter,
    limit: usize,
) -> (Vec<UserId>, Vec<usize>) {
    let (mut ids, mut sizes, mut cursor) = (Vec::new(), Vec::new(), None);
    loop {
        let page = users.list(&query(status, limit, cursor)).await.unwrap();
        sizes.push(page.items.len());
        ids.extend(page.items.iter().map(User::id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (ids, sizes),
        }
        assert!(sizes.len() <= 200, "the listing ends");
    }
}

/// What a test does to each registered user before listing.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Kept,
    Suspended,
    Deleted,
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        6 => Just(Fate::Kept),
        2 => Just(Fate::Suspended),
        2 => Just(Fate::Deleted),
    ]
}

async fn paging_returns_every_matching_user_once_newest_first(
    shards: u16,
    fates: Vec<Fate>,
    limits: (usize, usize, usize),
) {
    let table = recorded(ListingShards::new(shards).unwrap()).await;
    let mut users: Vec<User> = Vec::new();
    for (n, fate) in fates.iter().enumerate() {
        let registered = user(&format!("paged-{n}@example.com"));
        table
            .users
            .insert(&registered, &Outgoing::nothing())
            .await
            .unwrap();
        let stored = match fate {
            Fate::Kept => registered,
            Fate::Suspended => {
                table
                    .update(&registered, |user| {
                        user.suspend().unwrap();
                    })
                    .await
            }
            Fate::Deleted => {
                table
                    .update(&registered, |user| user.delete().unwrap())
                    .await
            }
        };
        users.push(stored);
    }
    // Newest first: ids are UUIDv7s.
    users.sort_by_key(|user| std::cmp::Reverse(user.id()));
    let (live, active, suspended) = limits;
    for (status, limit) in [
        (StatusFilter::NotDeleted, live),
        (StatusFilter::Only(UserStatus::Active), active),
        (StatusFilter::Only(UserStatus::Suspended), suspended),
        (StatusFilter::Only(UserStatus::Deleted), live),
    ] {
        let expected: Vec<UserId> = users
            .iter()
            .filter(|user| status.includes(user.status()))
            .map(User::id)
            .collect();
        let (listed, sizes) = pages(&table.users, status, limit).await;
        assert_eq!(
            listed, expected,
            "{status:?} in pages of {limit}, {shards} shards"
        );
        let (last, full) = sizes.split_last().unwrap();
        assert!(
            full.iter().all(|size| *size == limit),
            "every page but the last is full: {sizes:?}"
        );
        assert!(
            *last > 0 || sizes.len() == 1,
            "no empty last page after a cursor: {sizes:?}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn paging_any_listing_to_its_end_returns_each_user_once_newest_first(
        shards in prop_oneof![Just(1_u16), Just(4), Just(16)],
        fates in prop::collection::vec(fate(), 0..40),
        limits in (1_usize..12, 1_usize..12, 1_usize..12),
    ) {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(paging_returns_every_matching_user_once_newest_first(shards, fates, limits));
    }
}

#[tokio::test]
async fn each_number_of_shards_pages_every_user_once() {
    for shards in [1, 4, 16] {
        let fates = (0..23)
            .map(|n| match n % 5 {
                1 => Fate::Suspended,
                3 => Fate::Deleted,
                _ => Fate::Kept,
            })
            .collect();
        paging_returns_every_matching_user_once_newest_first(shards, fates, (5, 3, 2)).await;
    }
}

/// A user registered while an admin pages is newer than every page's cursor: the pages that
/// follow go on with older users, in order, each once (the cursor is the last listed id, the
/// same bound in every shard).
#[tokio::test]
async fn registrations_while_paging_leave_the_rest_of_the_listing_in_order() {
    let table = recorded(ListingShards::new(4).unwrap()).await;
    let mut registered = Vec::new();
    for n in 0..12 {
        let user = user(&format!("before-{n}@example.com"));
        table
            .users
            .insert(&user, &Outgoing::nothing())
            .await
            .unwrap();
        registered.push(user.id());
    }
    registered.reverse();
    let mut listed = Vec::new();
    let mut cursor = None;
    for round in 0.. {
        let page = table
            .users
            .list(&query(StatusFilter::NotDeleted, 3, cursor))
            .await
            .unwrap();
        listed.extend(page.items.iter().map(User::id));
        let newcomer = user(&format!("during-{round}@example.com"));
        table
            .users
            .insert(&newcomer, &Outgoing::nothing())
            .await
            .unwrap();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, registered);
}
