use super::errors::{build_failed, corrupt_item, repository_error};
use super::items::{self, Item};
use super::outbox::outbox_writes;
use super::transactions::{TransactionError, transact};
use application::credentials::{LoginAttempts, QUIET_SECONDS};
use application::ports::{
    CredentialRepository, OutgoingEmail, RESET_EMAIL_INTERVAL_SECONDS, RedeemTokenError,
    RepositoryError, ResetTokenIssued, ResetTokenRecord, SaveAttemptsError, TokenHash,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use domain::{Email, PasswordHash, Timestamp, UserId, UserStatus};
use std::collections::HashMap;

const RESET_PREFIX: &str = "RESET#";
const RESET_SORT_KEY: &str = "TOKEN";
const PASSWORD_SORT_KEY: &str = "PASSWORD";
use items::EXPIRES_AT;

fn reset_key(hash: &TokenHash) -> Item {
    items::key(format!("{RESET_PREFIX}{}", hash.as_str()), RESET_SORT_KEY)
}

const ATTEMPTS_PREFIX: &str = "LOGIN#";
const ATTEMPTS_SORT_KEY: &str = "ATTEMPTS";

/// The failed logins of an address, by its normalized form, known to the service or not.
pub(super) fn attempts_key(email: &Email) -> Item {
    items::key(
        format!("{ATTEMPTS_PREFIX}{}", email.normalized()),
        ATTEMPTS_SORT_KEY,
    )
}

/// The failed logins an attempts item holds; the default when there is none.
pub(super) fn attempts_from(item: Option<&Item>) -> Result<LoginAttempts, RepositoryError> {
    let Some(item) = item else {
        return Ok(LoginAttempts::default());
    };
    let failures = item
        .get("failures")
        .and_then(|value| value.as_n().ok())
        .and_then(|raw| raw.parse().ok())
        .ok_or_else(|| corrupt_item("a login-attempts item has no failures"))?;
    Ok(LoginAttempts {
        failures,
        last_failure_at: timestamp_attribute(item, "last_failure_at")?,
        locked_until: timestamp_attribute(item, "locked_until")?,
    })
}

/// The hash a password item holds; `None` when there is none.
pub(super) fn password_from(item: Option<&Item>) -> Result<Option<PasswordHash>, RepositoryError> {
    let Some(item) = item else {
        return Ok(None);
    };
    let phc = item
        .get("password_hash")
        .and_then(|value| value.as_s().ok())
        .ok_or_else(|| corrupt_item("a password item has no hash"))?;
    Ok(Some(PasswordHash::new(phc.as_str())))
}

fn timestamp_attribute(item: &Item, name: &str) -> Result<Option<Timestamp>, RepositoryError> {
    item.get(name)
        .map(|value| {
            value
                .as_s()
                .ok()
                .and_then(|raw| Timestamp::parse_rfc3339(raw))
                .ok_or_else(|| corrupt_item("a login-attempts item is malformed"))
        })
        .transpose()
}

/// A reset token's item, to expire by itself when the token does.
fn reset_item(record: &ResetTokenRecord) -> Item {
    let mut item = reset_key(&record.hash);
    item.extend(HashMap::from([
        ("entity".to_owned(), string("reset_token")),
        ("user_id".to_owned(), string(record.user_id.to_string())),
        ("sent_to".to_owned(), string(record.sent_to.as_str())),
        (EXPIRES_AT.to_owned(), items::expiry(record.expires_at)),
    ]));
    item
}

/// Which reset token is the user's current one, and when it was issued.
const LATEST_RESET_SORT_KEY: &str = "RESET_TOKEN";

fn latest_reset_key(user_id: UserId) -> Item {
    items::key(items::user_partition(user_id), LATEST_RESET_SORT_KEY)
}

pub(super) fn password_key(user_id: UserId) -> Item {
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
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(reset_item(record)))
            .send()
            .await
            .map_err(repository_error)?;
        Ok(())
    }

    async fn replace_reset_token(
        &self,
        record: &ResetTokenRecord,
        now: Timestamp,
        outbox: &[OutgoingEmail],
    ) -> Result<ResetTokenIssued, RepositoryError> {
        let key = latest_reset_key(record.user_id);
        let latest = items::read(&self.client, &self.table, key.clone()).await?;
        let earlier = latest.as_ref().and_then(|item| {
            let hash = item.get("token_hash")?.as_s().ok()?.clone();
            let issued_at = Timestamp::parse_rfc3339(item.get("issued_at")?.as_s().ok()?)?;
            Some((hash, issued_at))
        });
        if let Some((_, issued_at)) = &earlier
            && issued_at
                .plus_seconds(RESET_EMAIL_INTERVAL_SECONDS)
                .is_some_and(|next| now < next)
        {
            return Ok(ResetTokenIssued::TooSoon);
        }
        let mut pointer = key;
        pointer.extend([
            ("entity".to_owned(), string("latest_reset_token")),
            ("token_hash".to_owned(), string(record.hash.as_str())),
            ("issued_at".to_owned(), string(now.to_rfc3339())),
        ]);
        // Written only over the pointer as read: of two requests at once, one issues.
        let pointer = Put::builder()
            .table_name(&self.table)
            .set_item(Some(pointer));
        let pointer = match &earlier {
            Some((_, issued_at)) => pointer
                .condition_expression("issued_at = :read")
                .expression_attribute_values(":read", string(issued_at.to_rfc3339())),
            None => pointer.condition_expression("attribute_not_exists(pk)"),
        };
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(pointer.build().map_err(build_failed)?)
                .build(),
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(reset_item(record)))
                        .build()
                        .map_err(build_failed)?,
                )
                .build(),
        ];
        if let Some((hash, _)) = earlier {
            let revoke = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(reset_key(&TokenHash::new(hash))))
                .build()
                .map_err(build_failed)?;
            writes.push(TransactWriteItem::builder().delete(revoke).build());
        }
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(ResetTokenIssued::Issued),
            Err(TransactionError::ConditionFailed { .. } | TransactionError::Conflict) => {
                Ok(ResetTokenIssued::TooSoon)
            }
            Err(TransactionError::Repository(error)) => Err(error),
        }
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
        let expires_at = items::expiry_of(&item).ok_or_else(corrupt)?;
        let sent_to = item
            .get("sent_to")
            .and_then(|value| value.as_s().ok())
            .and_then(|raw| Email::parse(raw).ok())
            .ok_or_else(corrupt)?;
        Ok(Some(ResetTokenRecord {
            hash: hash.clone(),
            user_id,
            sent_to,
            expires_at,
        }))
    }

    async fn redeem_reset_token(
        &self,
        record: &ResetTokenRecord,
        password: &PasswordHash,
        now: Timestamp,
        outbox: &[OutgoingEmail],
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
        // The address is proved (the token went there) and every session of the user ends;
        // only while the user is active and still has that address.
        let verify = Update::builder()
            .table_name(&self.table)
            .set_key(Some(items::user_key(record.user_id)))
            .update_expression(
                "SET email_verified = :verified, sessions_valid_after = :now, \
                 #version = #version + :one",
            )
            .condition_expression("#status = :active AND email = :sent_to")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", string(UserStatus::Active.as_str()))
            .expression_attribute_values(":sent_to", string(record.sent_to.as_str()))
            .expression_attribute_values(":verified", AttributeValue::Bool(true))
            .expression_attribute_values(":now", string(now.to_rfc3339()))
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .build()
            .map_err(build_failed)?;
        // A password the owner just proved the address for lifts the address's lockout.
        let forget_attempts = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(attempts_key(&record.sent_to)))
            .build()
            .map_err(build_failed)?;
        let mut writes = vec![
            TransactWriteItem::builder().delete(consume).build(),
            TransactWriteItem::builder().put(store).build(),
            TransactWriteItem::builder().update(verify).build(),
            TransactWriteItem::builder().delete(forget_attempts).build(),
        ];
        writes.extend(outbox_writes(&self.table, outbox)?);
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

    async fn login_attempts(&self, email: &Email) -> Result<LoginAttempts, RepositoryError> {
        let item = items::read(&self.client, &self.table, attempts_key(email)).await?;
        attempts_from(item.as_ref())
    }

    async fn save_login_attempts(
        &self,
        email: &Email,
        stored: &LoginAttempts,
        next: &LoginAttempts,
    ) -> Result<(), SaveAttemptsError> {
        let mut item = attempts_key(email);
        item.insert("entity".to_owned(), string("login_attempts"));
        item.insert(
            "failures".to_owned(),
            AttributeValue::N(next.failures.to_string()),
        );
        for (name, at) in [
            ("last_failure_at", next.last_failure_at),
            ("locked_until", next.locked_until),
        ] {
            if let Some(at) = at {
                item.insert(name.to_owned(), string(at.to_rfc3339()));
            }
        }
        // Forgotten by TTL once quiet long enough (and by the code's own check before that).
        let forget_at = next
            .last_failure_at
            .and_then(|at| at.plus_seconds(QUIET_SECONDS))
            .map_or(0, |at| at.as_millis().div_euclid(1000) + 1);
        item.insert(
            EXPIRES_AT.to_owned(),
            AttributeValue::N(forget_at.to_string()),
        );
        // Written only over the record as read: a concurrent failure makes this one re-count.
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR failures = :failures")
            .expression_attribute_values(
                ":failures",
                AttributeValue::N(stored.failures.to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Err(SaveAttemptsError::AttemptsChanged)
            }
            Err(error) => Err(repository_error(error).into()),
        }
    }

    async fn password_hash(
        &self,
        user_id: UserId,
    ) -> Result<Option<PasswordHash>, RepositoryError> {
        let item = items::read(&self.client, &self.table, password_key(user_id)).await?;
        password_from(item.as_ref())
    }
}
