//! Sessions and their refresh tokens. A session is an item in its user's sessions
//! (`SESSION#<user id>` / `SESSION#<session id>`): it lives until it is ended (deleted), and expires by
//! TTL with its 30 days. A refresh token is an item by the hash of the token, naming its
//! session; a rotation checks, in its transaction, that the session item is still there.

use super::errors::{build_failed, corrupt_item, repository_error};
use super::items::{self, Item};
use super::transactions::{TransactionError, transact};
use application::ports::{
    RefreshTokenRecord, RepositoryError, RotateError, SessionOrigin, SessionRecord,
    SessionRepository, TokenHash, session_expiry,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem, Update};
use domain::{AuthMethods, SessionId, SessionProof, Timestamp, User, UserId};

const TOKEN_PREFIX: &str = "REFRESH#";
const TOKEN_SORT_KEY: &str = "TOKEN";
const SESSION_PREFIX: &str = "SESSION#";

fn token_key(hash: &TokenHash) -> Item {
    items::key(format!("{TOKEN_PREFIX}{}", hash.as_str()), TOKEN_SORT_KEY)
}

/// The partition of a user's sessions.
fn sessions_partition(user_id: UserId) -> String {
    format!("{SESSION_PREFIX}{user_id}")
}

/// A session's item, among its user's sessions.
pub(crate) fn session_key(user_id: UserId, session: SessionId) -> Item {
    items::key(
        sessions_partition(user_id),
        &format!("{SESSION_PREFIX}{session}"),
    )
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// The TTL of everything of a session: when it stops working anyway.
fn session_ttl(session: SessionId) -> AttributeValue {
    let end = session_expiry(session).map_or(i64::MAX, |end| end.as_millis().div_euclid(1000) + 1);
    AttributeValue::N(end.to_string())
}

fn methods_attribute(methods: AuthMethods) -> AttributeValue {
    AttributeValue::L(methods.names().iter().map(|name| string(*name)).collect())
}

fn methods_of(item: &Item) -> Option<AuthMethods> {
    let names: Vec<&str> = item
        .get("amr")?
        .as_l()
        .ok()?
        .iter()
        .map(|name| name.as_s().map(String::as_str))
        .collect::<Result<_, _>>()
        .ok()?;
    AuthMethods::from_names(&names)
}

pub(super) fn token_item(token: &RefreshTokenRecord) -> Item {
    let mut item = token_key(&token.hash);
    item.extend([
        ("entity".to_owned(), string("refresh_token")),
        ("user_id".to_owned(), string(token.user_id.to_string())),
        ("session".to_owned(), string(token.session().to_string())),
        (
            "auth_time".to_owned(),
            string(token.proof.auth_time.to_rfc3339()),
        ),
        ("amr".to_owned(), methods_attribute(token.proof.methods)),
        ("used".to_owned(), AttributeValue::Bool(token.used)),
        ("expires_at".to_owned(), session_ttl(token.session())),
    ]);
    item
}

/// The record a token item holds; `None` for a token of a family started before sessions
/// existed (no `session`): its holder signs in again.
fn read_token(
    hash: &TokenHash,
    item: &Item,
) -> Result<Option<RefreshTokenRecord>, RepositoryError> {
    let corrupt = || corrupt_item("a refresh token item is malformed");
    let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok());
    let Some(session) = text("session") else {
        return Ok(None);
    };
    Ok(Some(RefreshTokenRecord {
        hash: hash.clone(),
        user_id: text("user_id")
            .and_then(|raw| UserId::parse(raw).ok())
            .ok_or_else(corrupt)?,
        proof: SessionProof {
            session: SessionId::parse(session).map_err(|_| corrupt())?,
            auth_time: text("auth_time")
                .and_then(|raw| Timestamp::parse_rfc3339(raw))
                .ok_or_else(corrupt)?,
            methods: methods_of(item).ok_or_else(corrupt)?,
        },
        used: *item
            .get("used")
            .and_then(|value| value.as_bool().ok())
            .ok_or_else(corrupt)?,
    }))
}

pub(super) fn session_item(session: &SessionRecord) -> Item {
    let mut item = session_key(session.user_id, session.id);
    item.extend([
        ("entity".to_owned(), string("session")),
        ("user_id".to_owned(), string(session.user_id.to_string())),
        ("session".to_owned(), string(session.id.to_string())),
        ("amr".to_owned(), methods_attribute(session.methods)),
        (
            "last_used_at".to_owned(),
            string(session.last_used_at.to_rfc3339()),
        ),
        ("expires_at".to_owned(), session_ttl(session.id)),
    ]);
    let origin = [
        ("user_agent", &session.origin.user_agent),
        ("ip", &session.origin.ip),
    ];
    for (name, value) in origin {
        if let Some(value) = value {
            item.insert(name.to_owned(), string(value.as_str()));
        }
    }
    item
}

fn read_session(item: &Item) -> Result<SessionRecord, RepositoryError> {
    let corrupt = || corrupt_item("a session item is malformed");
    let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok());
    Ok(SessionRecord {
        user_id: text("user_id")
            .and_then(|raw| UserId::parse(raw).ok())
            .ok_or_else(corrupt)?,
        id: text("session")
            .and_then(|raw| SessionId::parse(raw).ok())
            .ok_or_else(corrupt)?,
        methods: methods_of(item).ok_or_else(corrupt)?,
        last_used_at: text("last_used_at")
            .and_then(|raw| Timestamp::parse_rfc3339(raw))
            .ok_or_else(corrupt)?,
        origin: SessionOrigin {
            user_agent: text("user_agent").cloned(),
            ip: text("ip").cloned(),
        },
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
        Ok(item
            .map(|item| read_token(hash, &item))
            .transpose()?
            .flatten())
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
            token
                .map(|item| read_token(hash, &item))
                .transpose()?
                .flatten(),
            user.map(items::to_user).transpose()?,
        ))
    }

    async fn rotate(
        &self,
        used: &RefreshTokenRecord,
        next: &RefreshTokenRecord,
        now: Timestamp,
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
        // The session's last use, on the condition that it was not ended.
        let touch = Update::builder()
            .table_name(&self.table)
            .set_key(Some(session_key(used.user_id, used.session())))
            .update_expression("SET last_used_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":now", string(now.to_rfc3339()))
            .build()
            .map_err(build_failed)?;
        let writes = vec![
            TransactWriteItem::builder().update(spend).build(),
            TransactWriteItem::builder().put(store).build(),
            TransactWriteItem::builder().update(touch).build(),
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

    async fn end_session(
        &self,
        user_id: UserId,
        session: SessionId,
    ) -> Result<Option<SessionRecord>, RepositoryError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(user_id, session)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(repository_error)?;
        output
            .attributes()
            .filter(|old| !old.is_empty())
            .map(read_session)
            .transpose()
    }

    async fn list(&self, user_id: UserId) -> Result<Vec<SessionRecord>, RepositoryError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :partition AND begins_with(sk, :sessions)")
            .expression_attribute_values(":partition", string(sessions_partition(user_id)))
            .expression_attribute_values(":sessions", string(SESSION_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let items: Vec<Item> = pages
            .collect::<Result<_, _>>()
            .await
            .map_err(repository_error)?;
        items.iter().map(read_session).collect()
    }
}
