//! The outbox: every email is an item written in the same transaction as the change that
//! causes it. The table's stream hands inserted outbox items to the mailer, which sends each and
//! then deletes it; an item that could not be sent stays, for its retries and, after them, for
//! an operator re-driving the dead-letter queue (it expires after the queue's retention).

use super::errors::{build_failed, repository_error};
use super::items::{self, Item, SealedItem};
use super::transactions::{TransactionError, transact};
use application::ports::{EmailSecret, Outbox, OutgoingEmail, PendingEmail, RepositoryError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use domain::{Email, Timestamp};
use serde::{Deserialize, Serialize};

const OUTBOX_PREFIX: &str = "OUTBOX#";
const OUTBOX_SORT_KEY: &str = "EMAIL";
/// The `entity` of outbox items: what the stream's filter selects.
pub const OUTBOX_ENTITY: &str = "outbox";
/// As long as the dead-letter queue keeps a message: 14 days.
const RETENTION_SECONDS: i64 = 14 * 24 * 60 * 60;

fn outbox_key(id: &str) -> Item {
    items::key(format!("{OUTBOX_PREFIX}{id}"), OUTBOX_SORT_KEY)
}

/// An outbox item as stored, and as the stream's `NewImage` carries it.
#[derive(Debug, Serialize, Deserialize)]
pub struct OutboxItem {
    pk: String,
    sk: String,
    entity: String,
    id: String,
    to: String,
    subject: String,
    text: String,
    /// The message's secret, sealed; its text holds the slot it goes in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<SealedItem>,
    recorded_at: String,
    expires_at: i64,
}

impl OutboxItem {
    fn record(email: &OutgoingEmail, now: Timestamp) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        Self {
            pk: format!("{OUTBOX_PREFIX}{id}"),
            sk: OUTBOX_SORT_KEY.to_owned(),
            entity: OUTBOX_ENTITY.to_owned(),
            id,
            to: email.to.as_str().to_owned(),
            subject: email.subject.clone(),
            text: email.text.clone(),
            secret: email
                .secret
                .as_ref()
                .map(|secret| SealedItem::of(&secret.sealed, secret.context)),
            recorded_at: now.to_rfc3339(),
            expires_at: now
                .plus_seconds(RETENTION_SECONDS)
                .map_or(0, |at| at.as_millis() / 1000),
        }
    }

    /// The item of a pending message, as the store wrote it.
    #[cfg(test)]
    pub(crate) fn of_pending(pending: &PendingEmail) -> Self {
        let mut item = Self::record(&pending.email, pending.recorded_at);
        item.pk = format!("{OUTBOX_PREFIX}{}", pending.id);
        item.id = pending.id.clone();
        item
    }

    /// The message to send; `None` when the item is not a well-formed outbox item.
    pub fn into_pending(self) -> Option<PendingEmail> {
        if self.entity != OUTBOX_ENTITY {
            return None;
        }
        let secret = match self.secret {
            Some(stored) => {
                let (sealed, context) = stored.into_parts()?;
                Some(EmailSecret { sealed, context })
            }
            None => None,
        };
        Some(PendingEmail {
            email: OutgoingEmail {
                to: Email::parse(&self.to).ok()?,
                subject: self.subject,
                text: self.text,
                secret,
            },
            recorded_at: Timestamp::parse_rfc3339(&self.recorded_at)?,
            id: self.id,
        })
    }
}

/// The puts that record `outbox`, for the transaction of the change that causes it.
pub(crate) fn outbox_writes(
    table: &str,
    outbox: &[OutgoingEmail],
) -> Result<Vec<TransactWriteItem>, RepositoryError> {
    let now = Timestamp::now();
    outbox
        .iter()
        .map(|email| {
            let item: Item = serde_dynamo::to_item(OutboxItem::record(email, now))
                .map_err(|error| RepositoryError::Failed(error.into()))?;
            items::put_new(table, item)
        })
        .collect()
}

/// The mailer's view of the outbox items.
#[derive(Debug, Clone)]
pub struct DynamoOutbox {
    client: Client,
    table: String,
}

impl DynamoOutbox {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Sends again every email recorded before `cutoff` and still waiting (dead-lettered, or
    /// stuck): each item is written back under a new id, a new insert on the stream, and the
    /// old one deleted, in one transaction. An operator's tool, so it scans; returns how many.
    pub async fn redrive(&self, cutoff: Timestamp) -> Result<usize, RepositoryError> {
        let mut redriven = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("entity = :outbox AND recorded_at < :cutoff")
                .expression_attribute_values(":outbox", AttributeValue::S(OUTBOX_ENTITY.to_owned()))
                .expression_attribute_values(":cutoff", AttributeValue::S(cutoff.to_rfc3339()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(repository_error)?;
            for item in page.items() {
                let stuck: OutboxItem = serde_dynamo::from_item(item.clone())
                    .map_err(|error| RepositoryError::Failed(error.into()))?;
                if self.write_back(stuck).await? {
                    redriven += 1;
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(redriven);
            }
        }
    }

    /// The item under a new id, the old one gone; `false` when the mailer sent and deleted it
    /// meanwhile.
    async fn write_back(&self, stuck: OutboxItem) -> Result<bool, RepositoryError> {
        let old_key = outbox_key(&stuck.id);
        let id = uuid::Uuid::now_v7().to_string();
        let again = OutboxItem {
            pk: format!("{OUTBOX_PREFIX}{id}"),
            id,
            ..stuck
        };
        let item: Item =
            serde_dynamo::to_item(again).map_err(|error| RepositoryError::Failed(error.into()))?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(old_key))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_failed)?;
        let writes = vec![
            TransactWriteItem::builder().delete(delete).build(),
            items::put_new(&self.table, item)?,
        ];
        match transact(&self.client, writes).await {
            Ok(()) => Ok(true),
            Err(TransactionError::ConditionFailed { .. }) => Ok(false),
            Err(TransactionError::Conflict) => Err(RepositoryError::Unavailable(
                "the mailer was deleting the item".into(),
            )),
            Err(TransactionError::Repository(error)) => Err(error),
        }
    }
}

impl Outbox for DynamoOutbox {
    async fn is_pending(&self, id: &str) -> Result<bool, RepositoryError> {
        Ok(items::read(&self.client, &self.table, outbox_key(id))
            .await?
            .is_some())
    }

    async fn forget(&self, id: &str) -> Result<(), RepositoryError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(outbox_key(id)))
            .send()
            .await
            .map_err(repository_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamodb::items::EXPIRES_AT;
    use application::ports::{SealedSecret, SecretContext, SecretPurpose};
    use domain::UserId;

    #[test]
    fn an_item_reads_back_as_the_message_it_recorded() {
        let email = OutgoingEmail {
            secret: Some(EmailSecret {
                sealed: SealedSecret::from_bytes(vec![0, 1, 2, 255]),
                context: SecretContext {
                    user_id: UserId::generate(),
                    purpose: SecretPurpose::EmailChange,
                },
            }),
            ..OutgoingEmail::new(
                Email::parse("ada@xn--bcher-kva.example").unwrap(),
                "Confirm your new email address",
                "token=[[secret]]\n",
            )
        };
        let now = Timestamp::now();
        let item = OutboxItem::record(&email, now);
        assert_eq!(
            item.expires_at * 1000 - now.as_millis() / 1000 * 1000,
            RETENTION_SECONDS * 1000
        );
        let id = item.id.clone();
        let stored: Item = serde_dynamo::to_item(&item).unwrap();
        assert_eq!(
            stored[EXPIRES_AT].as_n().unwrap(),
            &item.expires_at.to_string()
        );
        let read: OutboxItem = serde_dynamo::from_item(stored).unwrap();
        let pending = read.into_pending().unwrap();
        assert_eq!((pending.id, pending.email), (id, email));
    }
}
