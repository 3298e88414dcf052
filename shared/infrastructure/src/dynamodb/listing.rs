//! `GET /users`: a page of one listing index, whose users spread over shards (partition keys
//! `STATUS#<status>#<shard>`, `LIVE#<shard>`). Each page queries every shard not yet listed to
//! its end, at once, merges them newest first, and reads the page's users in one
//! `BatchGetItem` (the indexes hold keys only, so that a write that leaves a user's listings
//! alone writes no index item). The cursor keeps each shard's position.

use super::cursor::{self, ShardPosition};
use super::errors::{corrupt_item, repository_error};
use super::items::{self, ListingShards};
use super::table::{Index, LIVE_USERS, USERS_BY_STATUS};
use application::ports::{Page, PageError, RepositoryError, StatusFilter, UserListQuery};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{User, UserId};

/// One shard's part of a page: its ids, newest first, and whether nothing follows them.
struct ShardPage {
    ids: Vec<UserId>,
    exhausted: bool,
}

pub(crate) async fn users_page(
    client: &Client,
    table: &str,
    shards: ListingShards,
    query: &UserListQuery,
) -> Result<Page<User>, PageError> {
    let (index, partition): (Index, &dyn Fn(u16) -> String) = match query.status {
        StatusFilter::Only(status) => (USERS_BY_STATUS, &move |shard| {
            items::status_partition(status, shard)
        }),
        StatusFilter::NotDeleted => (LIVE_USERS, &items::live_partition),
    };
    let listing = cursor::users_listing(query.status);
    let count = usize::from(shards.count());
    let positions = match &query.cursor {
        None => vec![ShardPosition::Start; count],
        Some(token) => cursor::decode_shards(&listing, count, token, |raw| UserId::parse(raw).ok())
            .ok_or(PageError::InvalidCursor)?,
    };
    let limit = query.limit.get();
    let fetched = futures::future::try_join_all((0..shards.count()).zip(&positions).map(
        |(shard, position)| shard_page(client, table, index, partition(shard), *position, limit),
    ))
    .await?;

    // Newest first: ids are UUIDv7s, which order by creation time.
    let mut taken: Vec<(UserId, usize)> = fetched
        .iter()
        .enumerate()
        .flat_map(|(shard, page)| page.ids.iter().map(move |id| (*id, shard)))
        .collect();
    taken.sort_unstable_by_key(|(id, _)| std::cmp::Reverse(*id));
    taken.truncate(limit);

    let next = next_positions(&positions, &fetched, &taken);
    let more = next.iter().any(|position| *position != ShardPosition::Done);
    let items = read_users(client, table, &taken, query.status).await?;
    Ok(Page {
        items,
        next_cursor: more.then(|| cursor::encode_shards(listing, &next)),
    })
}

/// Up to `limit + 1` ids of one shard after `position`: one more than a page can take tells
/// that the shard goes on, so the last page never comes with a cursor to an empty one.
async fn shard_page(
    client: &Client,
    table: &str,
    index: Index,
    partition: String,
    position: ShardPosition<UserId>,
    limit: usize,
) -> Result<ShardPage, RepositoryError> {
    let start = match position {
        ShardPosition::Done => {
            return Ok(ShardPage {
                ids: Vec::new(),
                exhausted: true,
            });
        }
        ShardPosition::Start => None,
        ShardPosition::After(id) => Some(items::index_position(
            id,
            index.partition_key,
            partition.clone(),
        )),
    };
    let output = client
        .query()
        .table_name(table)
        .index_name(index.name)
        .key_condition_expression("#partition = :partition")
        .expression_attribute_names("#partition", index.partition_key)
        .expression_attribute_values(":partition", AttributeValue::S(partition))
        .scan_index_forward(false)
        .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(repository_error)?;
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
        exhausted: output.last_evaluated_key.is_none() && ids.len() <= limit,
        ids,
    })
}

/// Where each shard stands after a page took `taken`: done once all it had is taken, after
/// its last taken id otherwise, and where it was when the page took none of it.
fn next_positions(
    positions: &[ShardPosition<UserId>],
    fetched: &[ShardPage],
    taken: &[(UserId, usize)],
) -> Vec<ShardPosition<UserId>> {
    positions
        .iter()
        .zip(fetched)
        .enumerate()
        .map(|(shard, (position, page))| {
            let mut own = taken.iter().filter(|(_, from)| *from == shard);
            let count = own.clone().count();
            match own.next_back() {
                _ if *position == ShardPosition::Done => ShardPosition::Done,
                _ if page.exhausted && count == page.ids.len() => ShardPosition::Done,
                Some((last, _)) => ShardPosition::After(*last),
                None => *position,
            }
        })
        .collect()
}

/// The page's users, in its order. An index lags its table a little: a user whose status no
/// longer matches the listing has left it, and is left out.
async fn read_users(
    client: &Client,
    table: &str,
    taken: &[(UserId, usize)],
    filter: StatusFilter,
) -> Result<Vec<User>, RepositoryError> {
    let keys = taken.iter().map(|(id, _)| items::user_key(*id)).collect();
    let mut users = Vec::with_capacity(taken.len());
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
