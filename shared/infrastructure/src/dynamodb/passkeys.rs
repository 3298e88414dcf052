//! Passkeys and WebAuthn ceremonies, under partition-key kinds of their own:
//!
//! - `PASSKEY#<user id>` / `PASSKEY#<passkey id>`: a user's passkey (name, credential id, the
//!   public key's and the counter's state, created and last used);
//! - `CREDENTIAL#<credential id, base64url>` / `PASSKEY`: who holds a credential, written with
//!   the passkey (`attribute_not_exists`, so a credential registers once) and read by a sign-in;
//! - `CEREMONY#<ceremony id>` / `STATE`: a ceremony's server state between its two requests,
//!   taken by a conditional `DeleteItem` returning it (so once), gone by TTL 5 minutes on.

use super::errors::{build_failed, corrupt_item, repository_error};
use super::items::{self, EXPIRES_AT, Item};
use super::outbox::outbox_writes;
use super::transactions::{TransactionError, transact};
use super::users::DynamoUserRepository;
use application::ports::{
    CEREMONY_SECONDS, CredentialId, Outgoing, Passkey, PasskeyCredential, PasskeyStore,
    PasskeyWriteError, PendingCeremony, RepositoryError,
};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, ReturnValue, TransactWriteItem, Update};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use domain::{CeremonyId, PasskeyId, PasskeyName, Timestamp, User, UserId, UserStatus};
use serde::{Deserialize, Serialize};

const PASSKEY_PREFIX: &str = "PASSKEY#";
const CREDENTIAL_PREFIX: &str = "CREDENTIAL#";
const CREDENTIAL_SORT_KEY: &str = "PASSKEY";
const CEREMONY_PREFIX: &str = "CEREMONY#";
const CEREMONY_SORT_KEY: &str = "STATE";

fn passkeys_partition(user_id: UserId) -> String {
    format!("{PASSKEY_PREFIX}{user_id}")
}

fn passkey_key(user_id: UserId, id: PasskeyId) -> Item {
    items::key(
        passkeys_partition(user_id),
        &format!("{PASSKEY_PREFIX}{id}"),
    )
}

fn credential_key(id: &CredentialId) -> Item {
    let encoded = URL_SAFE_NO_PAD.encode(id.as_bytes());
    items::key(format!("{CREDENTIAL_PREFIX}{encoded}"), CREDENTIAL_SORT_KEY)
}

/// The owner of a passkey being added or removed, moved to its next version if it is still
/// at the version read and in one of `statuses`: a passkey is a change of the account.
fn owner_moves_on(
    table: &str,
    owner: &User,
    statuses: &[UserStatus],
) -> Result<TransactWriteItem, RepositoryError> {
    let allowed: Vec<String> = (0..statuses.len())
        .map(|at| format!(":status{at}"))
        .collect();
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(items::user_key(owner.id())))
        .update_expression("SET #version = :next")
        .condition_expression(format!(
            "#version = :read AND #status IN ({})",
            allowed.join(", ")
        ))
        .expression_attribute_names("#version", "version")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":read", version(owner.version().get()))
        .expression_attribute_values(":next", version(owner.version().next().get()));
    for (name, status) in allowed.iter().zip(statuses) {
        update = update.expression_attribute_values(name, string(status.as_str()));
    }
    let update = update.build().map_err(build_failed)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn version(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn ceremony_key(id: CeremonyId) -> Item {
    items::key(format!("{CEREMONY_PREFIX}{id}"), CEREMONY_SORT_KEY)
}

/// A passkey item as stored; the states in base64.
#[derive(Debug, Serialize, Deserialize)]
struct PasskeyItem {
    pk: String,
    sk: String,
    entity: String,
    id: String,
    user_id: String,
    name: String,
    credential_id: String,
    static_state: String,
    dynamic_state: String,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_at: Option<String>,
}

impl PasskeyItem {
    fn of(passkey: &Passkey) -> Self {
        let user_id = passkey.credential.user_id;
        Self {
            pk: passkeys_partition(user_id),
            sk: format!("{PASSKEY_PREFIX}{}", passkey.id),
            entity: "passkey".to_owned(),
            id: passkey.id.to_string(),
            user_id: user_id.to_string(),
            name: passkey.name.as_str().to_owned(),
            credential_id: URL_SAFE_NO_PAD.encode(passkey.credential.id.as_bytes()),
            static_state: STANDARD.encode(&passkey.credential.static_state),
            dynamic_state: STANDARD.encode(&passkey.credential.dynamic_state),
            created_at: passkey.created_at.to_rfc3339(),
            last_used_at: passkey.last_used_at.map(|at| at.to_rfc3339()),
        }
    }

    fn into_passkey(self) -> Option<Passkey> {
        Some(Passkey {
            id: PasskeyId::parse(&self.id).ok()?,
            name: PasskeyName::parse(&self.name).ok()?,
            credential: PasskeyCredential {
                id: CredentialId::new(URL_SAFE_NO_PAD.decode(&self.credential_id).ok()?),
                user_id: UserId::parse(&self.user_id).ok()?,
                static_state: STANDARD.decode(&self.static_state).ok()?,
                dynamic_state: STANDARD.decode(&self.dynamic_state).ok()?,
            },
            created_at: Timestamp::parse_rfc3339(&self.created_at)?,
            last_used_at: match self.last_used_at {
                Some(at) => Some(Timestamp::parse_rfc3339(&at)?),
                None => None,
            },
        })
    }
}

fn read_passkey(item: Item) -> Result<Passkey, RepositoryError> {
    let corrupt = || corrupt_item("a passkey item is not well formed");
    serde_dynamo::from_item::<_, PasskeyItem>(item)
        .map_err(|_| corrupt())?
        .into_passkey()
        .ok_or_else(corrupt)
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

impl PasskeyStore for DynamoUserRepository {
    async fn passkeys(&self, user_id: UserId) -> Result<Vec<Passkey>, RepositoryError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :partition AND begins_with(sk, :passkeys)")
            .expression_attribute_values(":partition", string(passkeys_partition(user_id)))
            .expression_attribute_values(":passkeys", string(PASSKEY_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await
            .map_err(repository_error)?;
        items.into_iter().map(read_passkey).collect()
    }

    async fn start_ceremony(&self, ceremony: &PendingCeremony) -> Result<(), RepositoryError> {
        let mut item = ceremony_key(ceremony.id);
        item.insert("entity".to_owned(), string("webauthn_ceremony"));
        item.insert("state".to_owned(), string(STANDARD.encode(&ceremony.state)));
        item.insert(
            "started_at".to_owned(),
            string(ceremony.started_at.to_rfc3339()),
        );
        if let Some(user_id) = ceremony.user_id {
            item.insert("user_id".to_owned(), string(user_id.to_string()));
        }
        let expires = ceremony
            .started_at
            .plus_seconds(CEREMONY_SECONDS)
            .ok_or_else(|| RepositoryError::Failed("a ceremony ends out of range".into()))?;
        item.insert(EXPIRES_AT.to_owned(), items::expiry(expires));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(repository_error)?;
        Ok(())
    }

    async fn take_ceremony(
        &self,
        id: CeremonyId,
    ) -> Result<Option<PendingCeremony>, RepositoryError> {
        // Conditional, so that of racing takes exactly one deletes it and gets it.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(ceremony_key(id)))
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    DeleteItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(repository_error(error)),
        };
        let Some(item) = output.attributes.filter(|item| !item.is_empty()) else {
            return Ok(None);
        };
        let text = |name: &str| item.get(name).and_then(|value| value.as_s().ok());
        let ceremony = (|| {
            Some(PendingCeremony {
                id,
                user_id: match text("user_id") {
                    Some(id) => Some(UserId::parse(id).ok()?),
                    None => None,
                },
                state: STANDARD.decode(text("state")?).ok()?,
                started_at: Timestamp::parse_rfc3339(text("started_at")?)?,
            })
        })();
        ceremony
            .map(Some)
            .ok_or_else(|| corrupt_item("a ceremony item is not well formed"))
    }

    async fn add(
        &self,
        passkey: &Passkey,
        owner: &User,
        outbox: &Outgoing,
    ) -> Result<(), PasskeyWriteError> {
        let item = serde_dynamo::to_item(PasskeyItem::of(passkey))
            .map_err(|error| RepositoryError::Failed(error.into()))?;
        let mut claim = credential_key(&passkey.credential.id);
        claim.insert("entity".to_owned(), string("credential_claim"));
        claim.insert(
            "user_id".to_owned(),
            string(passkey.credential.user_id.to_string()),
        );
        claim.insert("passkey_id".to_owned(), string(passkey.id.to_string()));
        let mut writes = vec![
            items::put_new(&self.table, item)?,
            items::put_new(&self.table, claim)?,
            owner_moves_on(&self.table, owner, &[UserStatus::Active])?,
        ];
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(()),
            Err(TransactionError::ConditionFailed { index: 1 }) => {
                Err(PasskeyWriteError::CredentialTaken)
            }
            Err(TransactionError::ConditionFailed { index: 2 }) => {
                Err(PasskeyWriteError::UserChanged)
            }
            Err(TransactionError::ConditionFailed { .. }) => {
                Err(RepositoryError::Failed("a passkey with this id exists".into()).into())
            }
            Err(TransactionError::Conflict) => {
                Err(RepositoryError::Unavailable("another write held the passkey".into()).into())
            }
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }

    async fn remove(
        &self,
        passkey: &Passkey,
        owner: &User,
        outbox: &Outgoing,
    ) -> Result<bool, PasskeyWriteError> {
        let key = passkey_key(passkey.credential.user_id, passkey.id);
        let delete = |key: Item, condition: Option<&str>| {
            Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key))
                .set_condition_expression(condition.map(str::to_owned))
                .build()
                .map(|delete| TransactWriteItem::builder().delete(delete).build())
                .map_err(build_failed)
        };
        let mut writes = vec![
            delete(key, Some("attribute_exists(pk)"))?,
            delete(credential_key(&passkey.credential.id), None)?,
            owner_moves_on(
                &self.table,
                owner,
                &[UserStatus::Active, UserStatus::Suspended],
            )?,
        ];
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(true),
            Err(TransactionError::ConditionFailed { index: 2 }) => {
                Err(PasskeyWriteError::UserChanged)
            }
            // Removed meanwhile by another request.
            Err(TransactionError::ConditionFailed { .. }) => Ok(false),
            Err(TransactionError::Conflict) => {
                Err(RepositoryError::Unavailable("another write held the passkey".into()).into())
            }
            Err(TransactionError::Repository(error)) => Err(error.into()),
        }
    }

    async fn by_credential(
        &self,
        credential_id: &CredentialId,
    ) -> Result<Option<Passkey>, RepositoryError> {
        let claim = items::read(&self.client, &self.table, credential_key(credential_id)).await?;
        let Some(claim) = claim else {
            return Ok(None);
        };
        let text = |name: &str| claim.get(name).and_then(|value| value.as_s().ok());
        let (Some(user_id), Some(passkey_id)) = (
            text("user_id").and_then(|id| UserId::parse(id).ok()),
            text("passkey_id").and_then(|id| PasskeyId::parse(id).ok()),
        ) else {
            return Err(corrupt_item("a credential claim is not well formed"));
        };
        let item = items::read(&self.client, &self.table, passkey_key(user_id, passkey_id)).await?;
        item.map(read_passkey).transpose()
    }

    async fn record_use(
        &self,
        passkey: &Passkey,
        dynamic_state: &[u8],
        at: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(passkey_key(passkey.credential.user_id, passkey.id)))
            .update_expression("SET dynamic_state = :new, last_used_at = :at")
            .condition_expression("dynamic_state = :read")
            .expression_attribute_values(":new", string(STANDARD.encode(dynamic_state)))
            .expression_attribute_values(
                ":read",
                string(STANDARD.encode(&passkey.credential.dynamic_state)),
            )
            .expression_attribute_values(":at", string(at.to_rfc3339()))
            .send()
            .await;
        super::factors::refused_means_false(result)
    }
}
