//! How entities look as DynamoDB items. Key prefixes keep item types apart in the one table.

use super::errors::corrupt_item;
use super::table::{PARTITION_KEY, SORT_KEY};
use application::ports::{RepositoryError, SealedSecret, SecretContext, SecretPurpose};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::{Email, Role, Timestamp, User, UserId, UserName, UserSnapshot, UserStatus, Version};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The item under `key`, read strongly consistent: every read here either answers a client
/// who may have just written, or starts a read-modify-write that must see the latest version.
pub(crate) async fn read(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    key: Item,
) -> Result<Option<Item>, RepositoryError> {
    let output = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(super::errors::repository_error)?;
    Ok(output.item)
}

/// The items under `keys` (at most 100, all different), read strongly consistent in one
/// request, each in the place of its key (`None` where no item is). Keys DynamoDB leaves
/// unprocessed (it may, under throttling) are asked for again after a short pause.
pub(crate) async fn read_all<const N: usize>(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: [Item; N],
) -> Result<[Option<Item>; N], RepositoryError> {
    let found = read_many(client, table, keys.to_vec()).await?;
    // `read_many` answers one place per key.
    found.try_into().map_err(|_| {
        RepositoryError::Failed("a batch read answered another number of places".into())
    })
}

/// `read_all` for a number of keys known only when running (at most 100).
pub(crate) async fn read_many(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: Vec<Item>,
) -> Result<Vec<Option<Item>>, RepositoryError> {
    let mut found: Vec<Option<Item>> = vec![None; keys.len()];
    if keys.is_empty() {
        return Ok(found);
    }
    let mut pending = keys.clone();
    for pause_ms in UNPROCESSED_PAUSES_MS {
        if pause_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
        }
        let request = KeysAndAttributes::builder()
            .set_keys(Some(pending))
            .consistent_read(true)
            .build()
            .map_err(super::errors::build_failed)?;
        let output = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(super::errors::repository_error)?;
        for item in output
            .responses
            .and_then(|mut tables| tables.remove(table))
            .unwrap_or_default()
        {
            if let Some(place) = keys.iter().position(|key| is_key_of(key, &item)) {
                found[place] = Some(item);
            }
        }
        pending = output
            .unprocessed_keys
            .and_then(|mut tables| tables.remove(table))
            .map(|rest| rest.keys)
            .unwrap_or_default();
        if pending.is_empty() {
            return Ok(found);
        }
    }
    Err(RepositoryError::Unavailable(
        "DynamoDB kept leaving keys of a batch read unprocessed".into(),
    ))
}

/// Pauses before each request of a batch read; all but the first ask again for keys it left
/// unprocessed (the SDK's own retries
/// do not cover them).
const UNPROCESSED_PAUSES_MS: [u64; 4] = [0, 25, 100, 400];

fn is_key_of(key: &Item, item: &Item) -> bool {
    [PARTITION_KEY, SORT_KEY]
        .iter()
        .all(|name| key.get(*name) == item.get(*name))
}

/// The table's TTL attribute: epoch seconds.
pub(crate) const EXPIRES_AT: &str = "expires_at";

/// `at` as the TTL wants it, in whole seconds; rounding up never shortens an item's life.
pub(crate) fn expiry(at: Timestamp) -> AttributeValue {
    AttributeValue::N(((at.as_millis() + 999) / 1000).to_string())
}

/// A token's exact expiry, in milliseconds, beside its TTL: the TTL's whole seconds are
/// rounded up, and the token's issue time (its expiry less its lifetime) must be exact to tell
/// a request from a revocation of the same second.
pub(crate) const EXPIRES_AT_MS: &str = "expires_at_ms";

/// The TTL and the exact expiry of a token item, for `at`.
pub(crate) fn token_expiry(at: Timestamp) -> [(String, AttributeValue); 2] {
    [
        (EXPIRES_AT.to_owned(), expiry(at)),
        (
            EXPIRES_AT_MS.to_owned(),
            AttributeValue::N(at.as_millis().to_string()),
        ),
    ]
}

/// The exact expiry of a token item; its TTL's (rounded up to the second) for an item written
/// before the exact one was kept.
pub(crate) fn token_expiry_of(item: &Item) -> Option<Timestamp> {
    match item.get(EXPIRES_AT_MS) {
        Some(millis) => Timestamp::from_millis(millis.as_n().ok()?.parse().ok()?),
        None => expiry_of(item),
    }
}

/// The expiry an item was written with; `None` when absent or malformed.
pub(crate) fn expiry_of(item: &Item) -> Option<Timestamp> {
    let seconds: i64 = item.get(EXPIRES_AT)?.as_n().ok()?.parse().ok()?;
    Timestamp::from_millis(seconds.checked_mul(1000)?)
}

/// A transaction's put of a new item: refused when an item with its key exists.
pub(crate) fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, RepositoryError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .map_err(super::errors::build_failed)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

const USER_PREFIX: &str = "USER#";
const USER_SORT_KEY: &str = "PROFILE";
const EMAIL_PREFIX: &str = "EMAIL#";
const EMAIL_SORT_KEY: &str = "CLAIM";
const STATUS_PREFIX: &str = "STATUS#";
const LIVE_PREFIX: &str = "LIVE#";

pub(crate) fn user_key(id: UserId) -> Item {
    key(user_partition(id), USER_SORT_KEY)
}

/// The partition of the user item. It holds the user alone: what belongs to a user lives under
/// partition keys of its own kind (`PASSWORD#`, `SESSION#`, `ORDERS#`, ...), so each function's
/// policy names the kinds it may touch (`dynamodb:LeadingKeys`).
pub(crate) fn user_partition(id: UserId) -> String {
    format!("{USER_PREFIX}{id}")
}

pub(crate) fn email_claim_key(email: &Email) -> Item {
    key(
        format!("{EMAIL_PREFIX}{}", email.normalized()),
        EMAIL_SORT_KEY,
    )
}

pub(crate) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), AttributeValue::S(pk)),
        (SORT_KEY.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// How many partition keys each listing index spreads its users over. An index partition key
/// takes about 1,000 write units per second, and every registration writes one item into each
/// listing index (2 units: a registration is a transaction; a status change writes two items
/// into `users_by_status`), so one key per status would cap the whole service's
/// registrations at about 500 per second. A user's shard is fixed for a count: changing
/// the count needs the users' index keys written again (README, "Listings").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingShards(u16);

impl ListingShards {
    /// Fit for 10,000 registrations per second: 20,000 write units per second on each index,
    /// 625 on each of 32 keys, with room for status changes and uneven spreads.
    pub const DEFAULT: Self = Self(32);
    pub const MAX: u16 = 256;

    /// `None` outside 1 to `MAX`.
    pub fn new(count: u16) -> Option<Self> {
        (1..=Self::MAX).contains(&count).then_some(Self(count))
    }

    pub fn count(self) -> u16 {
        self.0
    }

    /// The shard of user `id`: the first two bytes of the SHA-256 of its text, so any ids
    /// spread evenly, whatever their bits.
    pub(crate) fn of(self, id: UserId) -> u16 {
        let digest = Sha256::digest(id.to_string().as_bytes());
        u16::from_be_bytes([digest[0], digest[1]]) % self.0
    }
}

impl Default for ListingShards {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The partition key of the `users_by_status` index that holds shard `shard` of the users of
/// one status.
pub(crate) fn status_partition(status: UserStatus, shard: u16) -> String {
    format!("{STATUS_PREFIX}{status}#{shard}")
}

/// The partition key of the `live_users` index that holds shard `shard` of the live users.
pub(crate) fn live_partition(shard: u16) -> String {
    format!("{LIVE_PREFIX}{shard}")
}

fn default_role() -> String {
    Role::User.as_str().to_owned()
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct UserItem {
    pk: String,
    sk: String,
    entity: String,
    id: String,
    email: String,
    email_normalized: String,
    name: String,
    status: String,
    /// Items written before roles existed read as `user`.
    #[serde(default = "default_role")]
    role: String,
    #[serde(default)]
    email_verified: bool,
    /// Items written before second factors existed read as off.
    #[serde(default)]
    mfa_enabled: bool,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sessions_valid_after: Option<String>,
    version: u64,
    gsi1pk: String,
    gsi1sk: String,
    /// Present only while the user is not deleted, so the `live_users` index is sparse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
}

impl UserItem {
    pub(crate) fn from_user(user: &User, shards: ListingShards) -> Self {
        let id = user.id().to_string();
        let live = !user.is_deleted();
        let shard = shards.of(user.id());
        Self {
            pk: user_partition(user.id()),
            sk: USER_SORT_KEY.to_owned(),
            entity: "user".to_owned(),
            email: user.email().as_str().to_owned(),
            email_normalized: user.email().normalized().to_owned(),
            name: user.name().as_str().to_owned(),
            status: user.status().as_str().to_owned(),
            role: user.role().as_str().to_owned(),
            email_verified: user.email_verified(),
            mfa_enabled: user.mfa_enabled(),
            created_at: user.created_at().to_rfc3339(),
            last_login: user.last_login().map(|at| at.to_rfc3339()),
            sessions_valid_after: user.sessions_valid_after().map(|at| at.to_rfc3339()),
            version: user.version().get(),
            gsi1pk: status_partition(user.status(), shard),
            gsi1sk: id.clone(),
            gsi2pk: live.then(|| live_partition(shard)),
            gsi2sk: live.then(|| id.clone()),
            id,
        }
    }

    pub(crate) fn into_user(self) -> Result<User, RepositoryError> {
        let corrupt =
            |field: &str| corrupt_item(format!("user item {} has a bad {field}", self.pk));
        let timestamp =
            |raw: &str, field: &str| Timestamp::parse_rfc3339(raw).ok_or_else(|| corrupt(field));
        Ok(User::restore(UserSnapshot {
            id: UserId::parse(&self.id).map_err(|_| corrupt("id"))?,
            email: Email::parse(&self.email).map_err(|_| corrupt("email"))?,
            name: UserName::parse(&self.name).map_err(|_| corrupt("name"))?,
            status: UserStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            role: Role::parse(&self.role).ok_or_else(|| corrupt("role"))?,
            email_verified: self.email_verified,
            mfa_enabled: self.mfa_enabled,
            created_at: timestamp(&self.created_at, "created_at")?,
            last_login: self
                .last_login
                .as_deref()
                .map(|raw| timestamp(raw, "last_login"))
                .transpose()?,
            sessions_valid_after: self
                .sessions_valid_after
                .as_deref()
                .map(|raw| timestamp(raw, "sessions_valid_after"))
                .transpose()?,
            version: Version::new(self.version),
        }))
    }
}

pub(crate) fn to_item(user: &User, shards: ListingShards) -> Result<Item, RepositoryError> {
    serde_dynamo::to_item(UserItem::from_user(user, shards))
        .map_err(|error| RepositoryError::Failed(error.into()))
}

pub(crate) fn to_user(item: Item) -> Result<User, RepositoryError> {
    serde_dynamo::from_item::<_, UserItem>(item)
        .map_err(|error| RepositoryError::Failed(error.into()))?
        .into_user()
}

/// The user an email claim names; `None` when there is no claim.
pub(crate) fn claim_holder(claim: Option<&Item>) -> Result<Option<UserId>, RepositoryError> {
    let Some(claim) = claim else {
        return Ok(None);
    };
    claim
        .get("user_id")
        .and_then(|id| id.as_s().ok())
        .and_then(|id| UserId::parse(id).ok())
        .map(Some)
        .ok_or_else(|| corrupt_item("an email claim has a bad user_id"))
}

/// The item that reserves a normalized email address for one user.
pub(crate) fn email_claim(email: &Email, owner: UserId) -> Item {
    let mut item = email_claim_key(email);
    item.insert(
        "entity".to_owned(),
        AttributeValue::S("email_claim".to_owned()),
    );
    item.insert("user_id".to_owned(), AttributeValue::S(owner.to_string()));
    item
}

/// A sealed secret as stored: the ciphertext (base64) and the context it opens under.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SealedItem {
    ciphertext: String,
    user_id: String,
    purpose: String,
}

impl SealedItem {
    pub(crate) fn of(sealed: &SealedSecret, context: SecretContext) -> Self {
        Self {
            ciphertext: STANDARD.encode(sealed.as_bytes()),
            user_id: context.user_id.to_string(),
            purpose: context.purpose.as_str().to_owned(),
        }
    }

    /// The secret and its context; `None` when the item is not well formed.
    pub(crate) fn into_parts(self) -> Option<(SealedSecret, SecretContext)> {
        Some((
            SealedSecret::from_bytes(STANDARD.decode(self.ciphertext).ok()?),
            SecretContext {
                user_id: UserId::parse(&self.user_id).ok()?,
                purpose: SecretPurpose::parse(&self.purpose)?,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Email, UserName};

    #[test]
    fn a_user_item_from_before_second_factors_reads_with_mfa_off() {
        let user = User::register(
            UserId::generate(),
            Email::parse("old@example.com").unwrap(),
            UserName::parse("Old Timer").unwrap(),
            Timestamp::now(),
        );
        let mut item: Item =
            serde_dynamo::to_item(UserItem::from_user(&user, ListingShards::DEFAULT)).unwrap();
        assert!(item.remove("mfa_enabled").is_some());
        let read: UserItem = serde_dynamo::from_item(item).unwrap();
        assert!(!read.into_user().unwrap().mfa_enabled());
    }
}
