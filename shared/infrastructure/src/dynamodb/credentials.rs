use super::errors::{build_failed, corrupt_item, repository_error};
use super::items::{self, Item};
use super::outbox::outbox_writes;
use super::transactions::{TransactionError, transact};
use application::credentials::{
    FAILURES_COUNTED_BLINDLY, LoginAttempts, QUIET_SECONDS, Reservation,
};
use application::ports::{
    CredentialRepository, Outgoing, RESET_EMAIL_INTERVAL_SECONDS, RedeemTokenError,
    RepositoryError, ResetTokenIssued, ResetTokenRecord, TokenHash,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use domain::{Email, PasswordHash, Timestamp, User, UserId, UserStatus};
use std::collections::HashMap;

const RESET_PREFIX: &str = "RESET#";
const RESET_SORT_KEY: &str = "TOKEN";
const PASSWORD_PREFIX: &str = "PASSWORD#";
const PASSWORD_SORT_KEY: &str = "HASH";
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

/// The attempts item holding `attempts`, to expire by itself once quiet long enough (the
/// code's own check forgets it before that).
fn attempts_item(email: &Email, attempts: &LoginAttempts) -> Item {
    let mut item = attempts_key(email);
    item.insert("entity".to_owned(), string(ATTEMPTS_ENTITY));
    item.insert(
        "failures".to_owned(),
        AttributeValue::N(attempts.failures.to_string()),
    );
    for (name, at) in [
        ("last_failure_at", attempts.last_failure_at),
        ("locked_until", attempts.locked_until),
    ] {
        if let Some(at) = at {
            item.insert(name.to_owned(), string(at.to_rfc3339()));
        }
    }
    if let Some(forget_at) = attempts
        .last_failure_at
        .and_then(|at| at.plus_seconds(QUIET_SECONDS))
    {
        item.insert(EXPIRES_AT.to_owned(), items::expiry(forget_at));
    }
    item
}

const ATTEMPTS_ENTITY: &str = "login_attempts";

/// How many races a reservation may lose before it gives up with a 1 s lock.
const RACES_TO_LOSE: usize = 5;

/// Reserves one password check at the address, by the contract of `reserve_login_attempt`.
/// Below the first lock, one `ADD` (concurrent attempts all count, none waits or retries);
/// from there, or once the record is quiet, a put of the next record conditional on the
/// record as stored, so each slot goes to exactly one of racing attempts and the others find
/// the address locked. Either write answers the stored record when its condition fails, so a
/// locked address costs one round trip.
pub(super) async fn reserve_attempt(
    client: &Client,
    table: &str,
    email: &Email,
    now: Timestamp,
) -> Result<Reservation, RepositoryError> {
    let quiet_since = now
        .plus_seconds(-QUIET_SECONDS)
        .ok_or_else(|| corrupt_item("the clock is out of range"))?;
    let forget_at = now
        .plus_seconds(QUIET_SECONDS)
        .ok_or_else(|| corrupt_item("the clock is out of range"))?;
    let blind = client
        .update_item()
        .table_name(table)
        .set_key(Some(attempts_key(email)))
        .update_expression(
            "SET entity = :entity, last_failure_at = :now, #expires = :forget ADD failures :one",
        )
        .condition_expression(
            "attribute_not_exists(pk) OR (failures < :blind AND last_failure_at > :quiet_since \
             AND attribute_not_exists(locked_until))",
        )
        .expression_attribute_names("#expires", EXPIRES_AT)
        .expression_attribute_values(":entity", string(ATTEMPTS_ENTITY))
        .expression_attribute_values(":now", string(now.to_rfc3339()))
        .expression_attribute_values(":forget", items::expiry(forget_at))
        .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
        .expression_attribute_values(
            ":blind",
            AttributeValue::N(FAILURES_COUNTED_BLINDLY.to_string()),
        )
        .expression_attribute_values(":quiet_since", string(quiet_since.to_rfc3339()))
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    let mut stored = match blind {
        Ok(output) => return Ok(Reservation::Granted(attempts_from(output.attributes())?)),
        Err(SdkError::ServiceError(service))
            if matches!(
                service.err(),
                UpdateItemError::ConditionalCheckFailedException(_)
            ) =>
        {
            match service.into_err() {
                UpdateItemError::ConditionalCheckFailedException(failed) => failed.item,
                _ => None,
            }
        }
        Err(error) => return Err(repository_error(error)),
    };
    for _ in 0..RACES_TO_LOSE {
        let record = attempts_from(stored.as_ref())?;
        let counted = match record.reserve(now) {
            Reservation::Granted(counted) => counted,
            locked @ Reservation::Locked { .. } => return Ok(locked),
        };
        let put = client
            .put_item()
            .table_name(table)
            .set_item(Some(attempts_item(email, &counted)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let put = match &stored {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(_) => put
                .condition_expression("failures = :failures AND last_failure_at = :last")
                .expression_attribute_values(
                    ":failures",
                    AttributeValue::N(record.failures.to_string()),
                )
                .expression_attribute_values(
                    ":last",
                    string(
                        record
                            .last_failure_at
                            .map(|at| at.to_rfc3339())
                            .unwrap_or_default(),
                    ),
                ),
        };
        match put.send().await {
            Ok(_) => return Ok(Reservation::Granted(counted)),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                stored = match service.into_err() {
                    PutItemError::ConditionalCheckFailedException(failed) => failed.item,
                    _ => None,
                };
            }
            Err(error) => return Err(repository_error(error)),
        }
    }
    Ok(Reservation::Locked { retry_after: 1 })
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
    ]));
    item.extend(items::token_expiry(record.expires_at));
    item
}

/// Which reset token is the user's current one, and when it was issued: beside the tokens
/// (`RESET#<user id>`, where a token is `RESET#<hash>`), so the same grant covers both.
const LATEST_RESET_SORT_KEY: &str = "LATEST";

fn latest_reset_key(user_id: UserId) -> Item {
    items::key(format!("{RESET_PREFIX}{user_id}"), LATEST_RESET_SORT_KEY)
}

/// The password hash: a partition of its own kind, which only the functions that check or set
/// a password may read.
pub(super) fn password_key(user_id: UserId) -> Item {
    items::key(format!("{PASSWORD_PREFIX}{user_id}"), PASSWORD_SORT_KEY)
}

/// A transaction's put of the user's password item, set at `now`.
pub(super) fn password_put(
    table: &str,
    user_id: UserId,
    password: &PasswordHash,
    now: Timestamp,
) -> Result<Put, RepositoryError> {
    let mut item = password_key(user_id);
    item.extend(HashMap::from([
        ("entity".to_owned(), string("password")),
        ("password_hash".to_owned(), string(password.as_phc())),
        ("updated_at".to_owned(), string(now.to_rfc3339())),
    ]));
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .build()
        .map_err(build_failed)
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
        outbox: &Outgoing,
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
        let expires_at = items::token_expiry_of(&item).ok_or_else(corrupt)?;
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
        user: &User,
        password: &PasswordHash,
        now: Timestamp,
        outbox: &Outgoing,
    ) -> Result<(), RedeemTokenError> {
        let consume = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(reset_key(&record.hash)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_failed)?;
        let store = password_put(&self.table, record.user_id, password, now)?;
        // The address is proved (the token went there) and every session of the user ends;
        // only while the user is as read: active, with that address.
        let verify = Update::builder()
            .table_name(&self.table)
            .set_key(Some(items::user_key(record.user_id)))
            .update_expression(
                "SET email_verified = :verified, sessions_valid_after = :now, \
                 #version = #version + :one",
            )
            .condition_expression(
                "#version = :read AND #status = :active AND email = :sent_to AND \
                 (attribute_not_exists(sessions_valid_after) OR sessions_valid_after <= :issued_at)",
            )
            .expression_attribute_values(":read", AttributeValue::N(user.version().get().to_string()))
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":active", string(UserStatus::Active.as_str()))
            .expression_attribute_values(":sent_to", string(record.sent_to.as_str()))
            .expression_attribute_values(
                ":issued_at",
                string(record.issued_at().unwrap_or(now).to_rfc3339()),
            )
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
            Err(TransactionError::ConditionFailed { index: 2 }) => {
                Err(RedeemTokenError::UserChanged)
            }
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

    async fn reserve_login_attempt(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> Result<Reservation, RepositoryError> {
        reserve_attempt(&self.client, &self.table, email, now).await
    }

    async fn forget_login_attempts(&self, email: &Email) -> Result<(), RepositoryError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(attempts_key(email)))
            .send()
            .await
            .map_err(repository_error)?;
        Ok(())
    }

    async fn password_hash(
        &self,
        user_id: UserId,
    ) -> Result<Option<PasswordHash>, RepositoryError> {
        let item = items::read(&self.client, &self.table, password_key(user_id)).await?;
        password_from(item.as_ref())
    }
}
