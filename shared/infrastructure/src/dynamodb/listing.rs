//! `GET /users`: a page of one listing index, whose users spread over shards (partition keys
//! `STATUS#<status>#<shard>`, `LIVE#<shard>`). Every shard orders its users by id (UUIDv7s:
//! by creation) and a page takes the newest `limit` of all of them, so every user newer than
//! the page's last one has been listed or came after the listing started: the cursor is that
//! last id, and the next page asks each shard for what is older, at once, and merges newest
//! first. The page's users are read in one `BatchGetItem` (the indexes hold keys only, so that
//! a write that leaves a user's listings alone writes no index item).

use super::cursor;
use super::errors::{corrupt_item, repository_error};
use super::items::{self, ListingShards};
use super::table::{Index, LIVE_USERS, USERS_BY_STATUS};
use application::ports::{Page, PageError, RepositoryError, StatusFilter, UserListQuery};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{User, UserId};
use futures::{StreamExt, TryStreamExt};

/// Queries in flight at once: each needs a connection of its own, and a cold instance opens
/// (and pays the TLS handshake of) as many as it runs at once; 8 keep 32 shards to four
/// rounds.
const SHARD_QUERIES_AT_ONCE: usize = 8;

/// One shard's part of a page: its ids, newest first, and whether more may follow them.
struct ShardPage {
    ids: Vec<UserId>,
    more_in_store: bool,
}

pub(crate) async fn users_page(
    client: &Client,
    table: &str,
    shards: ListingShards,
    query: &UserListQuery,
) -> Result<Page<User>, PageError> {
    let (index, partition): (Index, &(dyn Fn(u16) -> String + Sync)) = match query.status {
        StatusFilter::Only(status) => (USERS_BY_STATUS, &move |shard| {
            items::status_partition(status, shard)
        }),
        StatusFilter::NotDeleted => (LIVE_USERS, &items::live_partition),
    };
    let listing = cursor::users_listing(query.status);
    let after = match &query.cursor {
        None => None,
        Some(token) => Some(
            cursor::decode(&listing, token, |raw| UserId::parse(raw).ok())
                .ok_or(PageError::InvalidCursor)?,
        ),
    };
    let limit = query.limit.get();
    let fetched: Vec<ShardPage> = futures::stream::iter(
        (0..shards.count())
            .map(|shard| shard_page(client, table, index, partition(shard), after, limit)),
    )
    .buffer_unordered(SHARD_QUERIES_AT_ONCE)
    .try_collect()
    .await?;

    // Newest first: ids are UUIDv7s, which order by creation time.
    let mut ids: Vec<UserId> = fetched.iter().flat_map(|page| page.ids.clone()).collect();
    ids.sort_unstable_by_key(|id| std::cmp::Reverse(*id));
    // One more than a page from each shard: more than `limit` in all tells that another page
    // follows, so the last page never comes with a cursor to an empty one.
    let more = ids.len() > limit || fetched.iter().any(|page| page.more_in_store);
    ids.truncate(limit);
    let next_cursor = match ids.last() {
        Some(last) if more => Some(cursor::encode(listing, last)),
        _ => None,
    };
    let items = read_users(client, table, &ids, query.status).await?;
    Ok(Page { items, next_cursor })
}

/// Up to `limit + 1` ids of one shard, newest first, older than `after`.
async fn shard_page(
    client: &Client,
    table: &str,
    index: Index,
    partition: String,
    after: Option<UserId>,
    limit: usize,
) -> Result<ShardPage, RepositoryError> {
    let mut request = client
        .query()
        .table_name(table)
        .index_name(index.name)
        .expression_attribute_names("#partition", index.partition_key)
        .expression_attribute_values(":partition", AttributeValue::S(partition))
        .scan_index_forward(false)
        .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX));
    request = match after {
        None => request.key_condition_expression("#partition = :partition"),
        Some(after) => request
            .key_condition_expression("#partition = :partition AND #sort < :after")
            .expression_attribute_names("#sort", index.sort_key)
            .expression_attribute_values(":after", AttributeValue::S(after.to_string())),
    };
    let output = request.send().await.map_err(repository_error)?;
    let ids = output
        .items()
        .iter()
        .map(|item| {
            item.get(index.sort_key)
                .and_then(|value| value.as_s().ok())
                .and_then(|raw| UserId::parse(raw).ok())
                .ok_or_else(|| corrupt_item(format!("an {} item without a user id", index.name)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ShardPage {
        // Past the 1 MB a Query reads, with fewer ids than asked for.
        more_in_store: output.last_evaluated_key.is_some() && ids.len() <= limit,
        ids,
    })
}

/// The page's users, in its order. An index lags its table a little: a user whose status no
/// longer matches the listing has left it, and is left out.
async fn read_users(
    client: &Client,
    table: &str,
    ids: &[UserId],
    filter: StatusFilter,
) -> Result<Vec<User>, RepositoryError> {
    let keys = ids.iter().map(|id| items::user_key(*id)).collect();
    let mut users = Vec::with_capacity(ids.len());
    for item in items::read_many(client, table, keys)
        .await?
        .into_iter()
        .flatten()
    {
        let user = items::to_user(item)?;
        if filter.includes(user.status()) {
            users.push(user);
        }
    }
    Ok(users)
}
