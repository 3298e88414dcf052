use super::errors::{build_failed, corrupt_item, repository_error};
use super::items::{self, Item};
use super::transactions::{TransactionError, transact};
use application::ports::{
    CredentialRepository, RedeemTokenError, RepositoryError, ResetTokenRecord, TokenHash,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use domain::{PasswordHash, Timestamp, UserId};
use std::collections::HashMap;

const RESET_PREFIX: &str = "RESET#";
const RESET_SORT_KEY: &str = "TOKEN";
const PASSWORD_SORT_KEY: &str = "PASSWORD";
/// The table's TTL attribute: epoch seconds.
const EXPIRES_AT: &str = "expires_at";

fn reset_key(hash: &TokenHash) -> Item {
    items::key(format!("{RESET_PREFIX}{}", hash.as_str()), RESET_SORT_KEY)
}

fn password_key(user_id: UserId) -> Item {
    items::key(items::user_partition(user_id), PASSWORD_SORT_KEY)
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// Reset tokens (by the hash of the token; they expire by TTL) and password hashes (an item
/// of their own in the user's collection, so user writes never touch them).
#[derive(Debug, Clone)]
pub struct DynamoCredentialRepository {
    client: Client,
    table: String,
}

impl DynamoCredentialRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl CredentialRepository for DynamoCredentialRepository {
    async fn save_reset_token(&self, record: &ResetTokenRecord) -> Result<(), RepositoryError> {
        let mut item = reset_key(&record.hash);
        item.extend(HashMap::from([
            ("entity".to_owned(), string("reset_token")),
            ("user_id".to_owned(), string(record.user_id.to_string())),
            // Whole seconds, as TTL wants them; rounding up never shortens a token's life.
            (
                EXPIRES_AT.to_owned(),
                AttributeValue::N(((record.expires_at.as_millis() + 999) / 1000).to_string()),
            ),
        ]));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(repository_error)?;
        Ok(())
    }

    async fn find_reset_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<ResetTokenRecord>, RepositoryError> {
        let Some(item) = items::read(&self.client, &self.table, reset_key(hash)).await? else {
            return Ok(None);
        };
        let corrupt = || corrupt_item("a reset token item is malformed");
        let user_id = item
            .get("user_id")
            .and_then(|value| value.as_s().ok())
            .and_then(|raw| UserId::parse(raw).ok())
            .ok_or_else(corrupt)?;
        let expires_at = item
            .get(EXPIRES_AT)
            .and_then(|value| value.as_n().ok())
            .and_then(|raw| raw.parse::<i64>().ok())
            .and_then(|seconds| Timestamp::from_millis(seconds.checked_mul(1000)?))
            .ok_or_else(corrupt)?;
        Ok(Some(ResetTokenRecord {
            hash: hash.clone(),
            user_id,
            expires_at,
        }))
    }

    async fn redeem_reset_token(
        &self,
        record: &ResetTokenRecord,
        password: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RedeemTokenError> {
        let consume = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(reset_key(&record.hash)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_failed)?;
        let mut item = password_key(record.user_id);
        item.extend(HashMap::from([
            ("entity".to_owned(), string("password")),
            ("password_hash".to_owned(), string(password.as_phc())),
            ("updated_at".to_owned(), string(now.to_rfc3339())),
        ]));
        let store = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(build_failed)?;
        // The address is proved (the token went there) and every session of the user ends.
        let verify = Update::builder()
            .table_name(&self.table)
            .set_key(Some(items::user_key(record.user_id)))
            .update_expression(
                "SET email_verified = :verified, sessions_valid_after = :now, \
                 #version = #version + :one",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":verified", AttributeValue::Bool(true))
            .expression_attribute_values(":now", string(now.to_rfc3339()))
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .build()
            .map_err(build_failed)?;
        let writes = vec![
            TransactWriteItem::builder().delete(consume).build(),
            TransactWriteItem::builder().put(store).build(),
            TransactWriteItem::builder().update(verify).build(),
        ];
        match transact(&self.client, writes).await {
            Ok(()) => Ok(()),
            Err(TransactionError::ConditionFailed { .. }) => Err(RedeemTokenError::TokenGone),
            // Nothing was written and the token may still be good: a retry will tell.
            Err(TransactionError::Conflict) => Err(RepositoryError::Unavailable(
                "a concurrent redemption held the token".into(),
            )
            .into()),
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }

    async fn password_hash(
        &self,
        user_id: UserId,
    ) -> Result<Option<PasswordHash>, RepositoryError> {
        let Some(item) = items::read(&self.client, &self.table, password_key(user_id)).await?
        else {
            return Ok(None);
        };
        let phc = item
            .get("password_hash")
            .and_then(|value| value.as_s().ok())
            .ok_or_else(|| corrupt_item("a password item has no hash"))?;
        Ok(Some(PasswordHash::new(phc.as_str())))
    }
}
