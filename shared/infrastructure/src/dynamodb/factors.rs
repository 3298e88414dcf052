//! Second factors: one item per user, `FACTOR#<user id>` / `TOTP`, under a partition-key kind
//! of its own (only the functions that check codes are granted it). It holds the TOTP secret
//! sealed with KMS, whether it is confirmed, the step of the last accepted code and the hashes
//! of the recovery codes not used yet; unconfirmed, it expires by TTL with its enrolment.

use super::errors::{build_failed, corrupt_item, repository_error};
use super::items::{self, EXPIRES_AT, Item, SealedItem};
use super::outbox::outbox_writes;
use super::transactions::{TransactionError, transact};
use super::users::DynamoUserRepository;
use application::ports::{
    ConfirmFactorError, ENROLMENT_SECONDS, Outgoing, RepositoryError, StartEnrolmentError,
    StoredTotp, TokenHash, TotpEnrolment, TotpFactors, TotpStep,
};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use domain::{Timestamp, User, UserId};
use serde::{Deserialize, Serialize};

const FACTOR_PREFIX: &str = "FACTOR#";
const TOTP_SORT_KEY: &str = "TOTP";

fn totp_key(user_id: UserId) -> Item {
    items::key(format!("{FACTOR_PREFIX}{user_id}"), TOTP_SORT_KEY)
}

/// The factor item as stored.
#[derive(Debug, Serialize, Deserialize)]
struct TotpItem {
    pk: String,
    sk: String,
    entity: String,
    user_id: String,
    secret: SealedItem,
    started_at: String,
    confirmed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_step: Option<u64>,
    /// A string set: a used code is deleted from it by value, in the write that checks it
    /// is there (the attribute goes with the last one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    recovery_codes: Vec<String>,
    /// TTL, only while unconfirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

impl TotpItem {
    fn enrolment(enrolment: &TotpEnrolment) -> Self {
        let key = totp_key(enrolment.user_id);
        let text = |name: &str| key[name].as_s().cloned().unwrap_or_default();
        Self {
            pk: text("pk"),
            sk: text("sk"),
            entity: "totp_factor".to_owned(),
            user_id: enrolment.user_id.to_string(),
            secret: SealedItem::of(
                &enrolment.secret,
                application::ports::SecretContext::totp_secret(enrolment.user_id),
            ),
            started_at: enrolment.started_at.to_rfc3339(),
            confirmed: false,
            last_step: None,
            recovery_codes: Vec::new(),
            expires_at: enrolment
                .started_at
                .plus_seconds(ENROLMENT_SECONDS)
                .map(|end| end.as_millis().div_euclid(1000) + 1),
        }
    }

    fn into_stored(self) -> Option<StoredTotp> {
        let user_id = UserId::parse(&self.user_id).ok()?;
        let (secret, _) = self.secret.into_parts()?;
        Some(StoredTotp {
            enrolment: TotpEnrolment {
                user_id,
                secret,
                started_at: Timestamp::parse_rfc3339(&self.started_at)?,
            },
            confirmed: self.confirmed,
            last_step: self.last_step.map(TotpStep::new),
            recovery_codes: self
                .recovery_codes
                .into_iter()
                .map(TokenHash::new)
                .collect(),
        })
    }
}

fn to_item(factor: TotpItem) -> Result<Item, RepositoryError> {
    serde_dynamo::to_item(factor).map_err(|error| RepositoryError::Failed(error.into()))
}

impl TotpFactors for DynamoUserRepository {
    async fn start_enrolment(&self, enrolment: &TotpEnrolment) -> Result<(), StartEnrolmentError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(TotpItem::enrolment(enrolment))?))
            .condition_expression("attribute_not_exists(pk) OR confirmed = :unconfirmed")
            .expression_attribute_values(":unconfirmed", AttributeValue::Bool(false))
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
                Err(StartEnrolmentError::FactorOn)
            }
            Err(error) => Err(repository_error(error).into()),
        }
    }

    async fn totp(&self, user_id: UserId) -> Result<Option<StoredTotp>, RepositoryError> {
        let Some(item) = items::read(&self.client, &self.table, totp_key(user_id)).await? else {
            return Ok(None);
        };
        let corrupt = || corrupt_item(format!("the factor of user {user_id} is not well formed"));
        let factor: TotpItem = serde_dynamo::from_item(item).map_err(|_| corrupt())?;
        factor.into_stored().map(Some).ok_or_else(corrupt)
    }

    async fn confirm(
        &self,
        enrolment: &TotpEnrolment,
        step: TotpStep,
        recovery_codes: &[TokenHash],
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, ConfirmFactorError> {
        let codes = recovery_codes
            .iter()
            .map(|hash| hash.as_str().to_owned())
            .collect();
        let confirm = Update::builder()
            .table_name(&self.table)
            .set_key(Some(totp_key(enrolment.user_id)))
            .update_expression(
                "SET confirmed = :confirmed, last_step = :step, recovery_codes = :codes \
                 REMOVE #expires_at",
            )
            .condition_expression("confirmed = :unconfirmed AND started_at = :started_at")
            .expression_attribute_names("#expires_at", EXPIRES_AT)
            .expression_attribute_values(":confirmed", AttributeValue::Bool(true))
            .expression_attribute_values(":unconfirmed", AttributeValue::Bool(false))
            .expression_attribute_values(":step", AttributeValue::N(step.get().to_string()))
            .expression_attribute_values(":codes", AttributeValue::Ss(codes))
            .expression_attribute_values(
                ":started_at",
                AttributeValue::S(enrolment.started_at.to_rfc3339()),
            )
            .build()
            .map_err(build_failed)?;
        let stored = updated.stored_at(current.version().next());
        let mut writes = vec![
            TransactWriteItem::builder().update(confirm).build(),
            TransactWriteItem::builder()
                .put(self.versioned_put(&stored, current)?)
                .build(),
        ];
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(stored),
            Err(TransactionError::ConditionFailed { index: 0 }) => {
                Err(ConfirmFactorError::EnrolmentChanged)
            }
            Err(TransactionError::ConditionFailed { .. }) => Err(ConfirmFactorError::UserChanged),
            Err(TransactionError::Conflict) => Err(RepositoryError::Unavailable(
                "another write held the factor or the user".into(),
            )
            .into()),
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }

    async fn accept_step(&self, user_id: UserId, step: TotpStep) -> Result<bool, RepositoryError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(totp_key(user_id)))
            .update_expression("SET last_step = :step")
            .condition_expression(
                "confirmed = :confirmed AND (attribute_not_exists(last_step) OR last_step < :step)",
            )
            .expression_attribute_values(":confirmed", AttributeValue::Bool(true))
            .expression_attribute_values(":step", AttributeValue::N(step.get().to_string()))
            .send()
            .await;
        refused_means_false(result)
    }

    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &TokenHash,
    ) -> Result<bool, RepositoryError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(totp_key(user_id)))
            .update_expression("DELETE recovery_codes :used")
            .condition_expression("confirmed = :confirmed AND contains(recovery_codes, :code)")
            .expression_attribute_values(":confirmed", AttributeValue::Bool(true))
            .expression_attribute_values(":code", AttributeValue::S(hash.as_str().to_owned()))
            .expression_attribute_values(
                ":used",
                AttributeValue::Ss(vec![hash.as_str().to_owned()]),
            )
            .send()
            .await;
        refused_means_false(result)
    }

    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[TokenHash],
    ) -> Result<bool, RepositoryError> {
        let codes = recovery_codes
            .iter()
            .map(|hash| hash.as_str().to_owned())
            .collect();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(totp_key(user_id)))
            .update_expression("SET recovery_codes = :codes")
            .condition_expression("confirmed = :confirmed")
            .expression_attribute_values(":confirmed", AttributeValue::Bool(true))
            .expression_attribute_values(":codes", AttributeValue::Ss(codes))
            .send()
            .await;
        refused_means_false(result)
    }

    async fn remove(
        &self,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> Result<User, ConfirmFactorError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(totp_key(current.id())))
            .build()
            .map_err(build_failed)?;
        let stored = updated.stored_at(current.version().next());
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(self.versioned_put(&stored, current)?)
                .build(),
            TransactWriteItem::builder().delete(delete).build(),
        ];
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(stored),
            Err(TransactionError::ConditionFailed { .. } | TransactionError::Conflict) => {
                Err(ConfirmFactorError::UserChanged)
            }
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }
}

/// A conditional update's outcome: `false` when its condition did not hold.
pub(super) fn refused_means_false<T>(
    result: Result<T, SdkError<UpdateItemError, aws_sdk_dynamodb::config::http::HttpResponse>>,
) -> Result<bool, RepositoryError> {
    match result {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(service))
            if matches!(
                service.err(),
                UpdateItemError::ConditionalCheckFailedException(_)
            ) =>
        {
            Ok(false)
        }
        Err(error) => Err(repository_error(error)),
    }
}
