//! Refresh tokens (by the hash of the token) and revoked families, both expiring by TTL with
//! their family, 30 days after its login.

use super::errors::{build_failed, corrupt_item, repository_error};
use super::items::{self, Item};
use super::transactions::{TransactionError, transact};
use application::ports::{
    RefreshTokenRecord, RepositoryError, RotateError, SessionRepository, TokenHash,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use domain::{Timestamp, User, UserId};

const TOKEN_PREFIX: &str = "REFRESH#";
const TOKEN_SORT_KEY: &str = "TOKEN";
const FAMILY_PREFIX: &str = "SESSION#";
const REVOKED_SORT_KEY: &str = "REVOKED";

fn token_key(hash: &TokenHash) -> Item {
    items::key(format!("{TOKEN_PREFIX}{}", hash.as_str()), TOKEN_SORT_KEY)
}

fn revoked_key(family: &str) -> Item {
    items::key(format!("{FAMILY_PREFIX}{family}"), REVOKED_SORT_KEY)
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// The TTL of everything of a family: when the family stops working anyway.
fn family_expiry(token: &RefreshTokenRecord) -> AttributeValue {
    let end = token
        .expires_at()
        .map_or(i64::MAX, |end| end.as_millis().div_euclid(1000) + 1);
    AttributeValue::N(end.to_string())
}

pub(super) fn token_item(token: &RefreshTokenRecord) -> Item {
    let mut item = token_key(&token.hash);
    item.extend([
        ("entity".to_owned(), string("refresh_token")),
        ("user_id".to_owned(), string(token.user_id.to_string())),
        ("family".to_owned(), string(token.family.as_str())),
        (
            "family_started_at".to_owned(),
            string(token.family_started_at.to_rfc3339()),
        ),
        ("used".to_owned(), AttributeValue::Bool(token.used)),
        ("expires_at".to_owned(), family_expiry(token)),
    ]);
    item
}

fn read_token(hash: &TokenHash, item: &Item) -> Result<RefreshTokenRecord, RepositoryError> {
    let corrupt = || corrupt_item("a refresh token item is malformed");
    let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok());
    Ok(RefreshTokenRecord {
        hash: hash.clone(),
        user_id: text("user_id")
            .and_then(|raw| UserId::parse(raw).ok())
            .ok_or_else(corrupt)?,
        family: text("family").ok_or_else(corrupt)?.clone(),
        family_started_at: text("family_started_at")
            .and_then(|raw| Timestamp::parse_rfc3339(raw))
            .ok_or_else(corrupt)?,
        used: *item
            .get("used")
            .and_then(|value| value.as_bool().ok())
            .ok_or_else(corrupt)?,
    })
}

#[derive(Debug, Clone)]
pub struct DynamoSessionRepository {
    client: Client,
    table: String,
}

impl DynamoSessionRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl SessionRepository for DynamoSessionRepository {
    async fn find(&self, hash: &TokenHash) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
        let item = items::read(&self.client, &self.table, token_key(hash)).await?;
        item.map(|item| read_token(hash, &item)).transpose()
    }

    async fn find_with_owner(
        &self,
        hash: &TokenHash,
        owner: UserId,
    ) -> Result<(Option<RefreshTokenRecord>, Option<User>), RepositoryError> {
        let [token, user] = items::read_all(
            &self.client,
            &self.table,
            [token_key(hash), items::user_key(owner)],
        )
        .await?;
        Ok((
            token.map(|item| read_token(hash, &item)).transpose()?,
            user.map(items::to_user).transpose()?,
        ))
    }

    async fn rotate(
        &self,
        used: &RefreshTokenRecord,
        next: &RefreshTokenRecord,
    ) -> Result<(), RotateError> {
        let spend = Update::builder()
            .table_name(&self.table)
            .set_key(Some(token_key(&used.hash)))
            .update_expression("SET used = :used")
            .condition_expression("used = :unused")
            .expression_attribute_values(":used", AttributeValue::Bool(true))
            .expression_attribute_values(":unused", AttributeValue::Bool(false))
            .build()
            .map_err(build_failed)?;
        let store = Put::builder()
            .table_name(&self.table)
            .set_item(Some(token_item(next)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_failed)?;
        let alive = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(revoked_key(&used.family)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_failed)?;
        let writes = vec![
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder().put(store).build(),
            TransactWriteItem::builder().condition_check(alive).build(),
        ];
        match transact(&self.client, writes).await {
            Ok(()) => Ok(()),
            Err(TransactionError::ConditionFailed { index: 2 }) => Err(RotateError::Revoked),
            // A twin refresh got there first: nothing was written.
            Err(TransactionError::ConditionFailed { .. } | TransactionError::Conflict) => {
                Err(RotateError::Lost)
            }
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }

    async fn revoke_family(&self, token: &RefreshTokenRecord) -> Result<(), RepositoryError> {
        let mut item = revoked_key(&token.family);
        item.extend([
            ("entity".to_owned(), string("revoked_session")),
            ("user_id".to_owned(), string(token.user_id.to_string())),
            ("expires_at".to_owned(), family_expiry(token)),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(repository_error)?;
        Ok(())
    }
}
