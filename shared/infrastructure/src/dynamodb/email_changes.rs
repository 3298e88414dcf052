//! Pending email changes: a token item by the token's hash (expiring by TTL) and a pointer in
//! the user's collection to the user's one pending token, so a new request voids the earlier.

use super::errors::{build_failed, corrupt_item};
use super::items::{self, EXPIRES_AT, Item};
use super::outbox::outbox_writes;
use super::transactions::{TransactionError, transact};
use super::users::{DynamoUserRepository, update_error};
use application::ports::{
    ApplyEmailChangeError, EmailChangeRecord, EmailChangeRepository, Outgoing, RepositoryError,
    TokenHash, UpdateUserError,
};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use domain::{Email, User, UserId};

const TOKEN_PREFIX: &str = "EMAIL_CHANGE#";
const TOKEN_SORT_KEY: &str = "TOKEN";
const PENDING_SORT_KEY: &str = "PENDING";

fn token_key(hash: &str) -> Item {
    items::key(format!("{TOKEN_PREFIX}{hash}"), TOKEN_SORT_KEY)
}

/// The user's one live email-change token, beside the tokens (`EMAIL_CHANGE#<user id>`).
fn pending_key(user_id: UserId) -> Item {
    items::key(format!("{TOKEN_PREFIX}{user_id}"), PENDING_SORT_KEY)
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

impl DynamoUserRepository {
    fn delete(
        &self,
        key: Item,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem, RepositoryError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(build_failed)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

impl EmailChangeRepository for DynamoUserRepository {
    async fn save_email_change(
        &self,
        record: &EmailChangeRecord,
        outbox: &Outgoing,
    ) -> Result<(), RepositoryError> {
        let key = pending_key(record.user_id);
        let earlier = items::read(&self.client, &self.table, key.clone())
            .await?
            .and_then(|item| Some(item.get("token_hash")?.as_s().ok()?.clone()));

        let mut token = token_key(record.hash.as_str());
        token.extend([
            ("entity".to_owned(), string("email_change_token")),
            ("user_id".to_owned(), string(record.user_id.to_string())),
            ("new_email".to_owned(), string(record.new_email.as_str())),
        ]);
        token.extend(items::token_expiry(record.expires_at));
        let mut pending = key;
        pending.extend([
            ("entity".to_owned(), string("pending_email_change")),
            ("token_hash".to_owned(), string(record.hash.as_str())),
            (EXPIRES_AT.to_owned(), items::expiry(record.expires_at)),
        ]);
        // Written only over the pointer as read: of two requests at once, one is stored.
        let pending = Put::builder()
            .table_name(&self.table)
            .set_item(Some(pending));
        let pending = match &earlier {
            Some(hash) => pending
                .condition_expression("token_hash = :read")
                .expression_attribute_values(":read", string(hash)),
            None => pending.condition_expression("attribute_not_exists(pk)"),
        };
        let token = Put::builder()
            .table_name(&self.table)
            .set_item(Some(token))
            .build()
            .map_err(build_failed)?;
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(pending.build().map_err(build_failed)?)
                .build(),
            TransactWriteItem::builder().put(token).build(),
        ];
        if let Some(hash) = earlier {
            writes.push(self.delete(token_key(&hash), None)?);
        }
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(()),
            Err(TransactionError::ConditionFailed { .. } | TransactionError::Conflict) => {
                Err(RepositoryError::Unavailable(
                    "another email change of this user was being stored".into(),
                ))
            }
            Err(TransactionError::Repository(error)) => Err(error),
        }
    }

    async fn find_email_change(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<EmailChangeRecord>, RepositoryError> {
        let Some(item) = items::read(&self.client, &self.table, token_key(hash.as_str())).await?
        else {
            return Ok(None);
        };
        let corrupt = || corrupt_item("an email-change token item is malformed");
        let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok());
        Ok(Some(EmailChangeRecord {
            hash: hash.clone(),
            user_id: text("user_id")
                .and_then(|raw| UserId::parse(raw).ok())
                .ok_or_else(corrupt)?,
            new_email: text("new_email")
                .and_then(|raw| Email::parse(raw).ok())
                .ok_or_else(corrupt)?,
            expires_at: items::token_expiry_of(&item).ok_or_else(corrupt)?,
        }))
    }

    async fn apply_email_change(
        &self,
        record: &EmailChangeRecord,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, ApplyEmailChangeError> {
        let stored = updated.stored_at(current.version().next());
        let (mut writes, claim_index) = self.writes_moving_the_claim(current, &stored)?;
        let token_index = writes.len();
        writes.push(self.delete(
            token_key(record.hash.as_str()),
            Some("attribute_exists(pk)"),
        )?);
        writes.push(self.delete(pending_key(record.user_id), None)?);
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(stored),
            Err(TransactionError::ConditionFailed { index }) if index == token_index => {
                Err(ApplyEmailChangeError::TokenGone)
            }
            Err(error) => Err(match update_error(error, claim_index, usize::MAX) {
                UpdateUserError::EmailTaken => ApplyEmailChangeError::EmailTaken,
                UpdateUserError::VersionConflict | UpdateUserError::LastAdmin => {
                    ApplyEmailChangeError::VersionConflict
                }
                UpdateUserError::Repository(error) => ApplyEmailChangeError::Repository(error),
            }),
        }
    }
}
