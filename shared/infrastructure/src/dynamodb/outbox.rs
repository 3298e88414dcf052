//! The outbox: every email and every event is an item written in the same transaction as the
//! change that causes it. The table's stream hands inserted outbox items to the mailer (emails)
//! or the publisher (events), which sends each and then deletes it; an item that could not be
//! sent stays, for its retries and, after them, for an operator re-driving the dead-letter
//! queue (it expires after the queue's retention).

use super::errors::{build_failed, corrupt_item, repository_error};
use super::items::{self, Item, SealedItem};
use super::table::{PARTITION_KEY, SORT_KEY};
use super::transactions::{TransactionError, transact};
use application::ports::{
    Change, DomainEvent, EmailSecret, EventOutbox, Outbox, Outgoing, OutgoingEmail, PendingEmail,
    PendingEvent, RepositoryError,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, TransactWriteItem, WriteRequest,
};
use domain::{Email, Timestamp};
use serde::{Deserialize, Serialize};

const OUTBOX_PREFIX: &str = "OUTBOX#";
const OUTBOX_SORT_KEY: &str = "EMAIL";
const EVENT_SORT_KEY: &str = "EVENT";
/// The `entity` of outbox emails: what the mailer's stream filter selects.
pub const OUTBOX_ENTITY: &str = "outbox";
/// The `entity` of outbox events: what the publisher's stream filter selects.
pub const EVENT_ENTITY: &str = "event";
/// As long as the dead-letter queue keeps a message: 14 days.
const RETENTION_SECONDS: i64 = 14 * 24 * 60 * 60;

fn outbox_key(id: &str) -> Item {
    items::key(format!("{OUTBOX_PREFIX}{id}"), OUTBOX_SORT_KEY)
}

fn event_key(id: &str) -> Item {
    items::key(format!("{OUTBOX_PREFIX}{id}"), EVENT_SORT_KEY)
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
    /// The X-Ray trace of the request that recorded it, which the mailer's work joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_header: Option<String>,
}

/// What the items one write records share: when, until when they are kept, and the trace of
/// the request that wrote them.
struct Recording {
    at: Timestamp,
    /// As long as the dead-letter queue keeps a message.
    expires_at: i64,
    trace_header: Option<String>,
}

impl Recording {
    fn at(at: Timestamp) -> Self {
        Self {
            at,
            expires_at: at
                .plus_seconds(RETENTION_SECONDS)
                .map_or(0, |until| until.as_millis() / 1000),
            trace_header: xray::current().map(|header| header.to_string()),
        }
    }

    /// A new item id, and the partition key it goes under.
    fn new_key() -> (String, String) {
        let id = uuid::Uuid::now_v7().to_string();
        (format!("{OUTBOX_PREFIX}{id}"), id)
    }
}

impl OutboxItem {
    fn record(email: &OutgoingEmail, recording: &Recording) -> Self {
        let (pk, id) = Recording::new_key();
        Self {
            pk,
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
            recorded_at: recording.at.to_rfc3339(),
            expires_at: recording.expires_at,
            trace_header: recording.trace_header.clone(),
        }
    }

    /// The item of a pending message, as the store wrote it.
    #[cfg(test)]
    pub(crate) fn of_pending(pending: &PendingEmail) -> Self {
        let mut item = Self::record(&pending.email, &Recording::at(pending.recorded_at));
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
            trace_header: self.trace_header,
        })
    }
}

/// An event item as stored, and as the stream's `NewImage` carries it: the `detail-type` and
/// the `detail` the bus will deliver, written once, when the change is.
#[derive(Debug, Serialize, Deserialize)]
pub struct EventItem {
    pk: String,
    sk: String,
    entity: String,
    id: String,
    user_id: String,
    detail_type: String,
    detail: String,
    recorded_at: String,
    expires_at: i64,
    /// The X-Ray trace of the request that recorded it, which the publisher's work joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace_header: Option<String>,
}

impl EventItem {
    fn record(event: &DomainEvent, recording: &Recording) -> Self {
        let (pk, id) = Recording::new_key();
        Self {
            pk,
            sk: EVENT_SORT_KEY.to_owned(),
            entity: EVENT_ENTITY.to_owned(),
            detail: event_detail(event, &id, recording.at).to_string(),
            id,
            user_id: event.user_id.to_string(),
            detail_type: event.change.detail_type().to_owned(),
            recorded_at: recording.at.to_rfc3339(),
            expires_at: recording.expires_at,
            trace_header: recording.trace_header.clone(),
        }
    }

    /// The item of a pending event, as the store wrote it.
    #[cfg(test)]
    pub(crate) fn of_pending(pending: &PendingEvent) -> Self {
        Self {
            pk: format!("{OUTBOX_PREFIX}{}", pending.id),
            sk: EVENT_SORT_KEY.to_owned(),
            entity: EVENT_ENTITY.to_owned(),
            id: pending.id.clone(),
            user_id: String::new(),
            detail_type: pending.detail_type.clone(),
            detail: pending.detail.clone(),
            recorded_at: pending.recorded_at.to_rfc3339(),
            expires_at: 0,
            trace_header: pending.trace_header.clone(),
        }
    }

    /// The event to publish; `None` when the item is not a well-formed event item.
    pub fn into_pending(self) -> Option<PendingEvent> {
        (self.entity == EVENT_ENTITY).then_some(())?;
        Some(PendingEvent {
            recorded_at: Timestamp::parse_rfc3339(&self.recorded_at)?,
            id: self.id,
            detail_type: self.detail_type,
            detail: self.detail,
            trace_header: self.trace_header,
        })
    }
}

/// The `detail` of an event (API.md, "Events"; `docs/events/` holds its schemas): ids,
/// statuses, roles and amounts, never an address, a name, a token or a password.
pub fn event_detail(
    event: &DomainEvent,
    event_id: &str,
    occurred_at: Timestamp,
) -> serde_json::Value {
    let mut detail = serde_json::json!({
        "event_id": event_id,
        "occurred_at": occurred_at.to_rfc3339(),
        "user_id": event.user_id.to_string(),
        "version": event.version.get(),
    });
    let fields = match &event.change {
        Change::UserRegistered { status, role } => {
            serde_json::json!({"status": status.as_str(), "role": role.as_str()})
        }
        Change::UserEmailChanged { email_verified } => {
            serde_json::json!({"email_verified": email_verified})
        }
        Change::UserSuspended => serde_json::json!({"status": "suspended"}),
        Change::UserActivated => serde_json::json!({"status": "active"}),
        Change::UserDeleted => serde_json::json!({"status": "deleted"}),
        Change::UserRoleChanged {
            previous_role,
            role,
        } => serde_json::json!({"previous_role": previous_role.as_str(), "role": role.as_str()}),
        Change::UserPasswordChanged { by } => serde_json::json!({"by": by.as_str()}),
        Change::UserSecondFactorEnabled => serde_json::json!({"mfa_enabled": true}),
        Change::UserSecondFactorDisabled => serde_json::json!({"mfa_enabled": false}),
        Change::UserPasskeyAdded { passkey_id } | Change::UserPasskeyRemoved { passkey_id } => {
            serde_json::json!({"passkey_id": passkey_id.to_string()})
        }
        Change::OrderPlaced {
            order_id,
            total,
            lines,
        } => serde_json::json!({
            "order_id": order_id.to_string(),
            "total": {"amount": total.amount(), "currency": total.currency().code()},
            "lines": lines,
        }),
    };
    if let (Some(detail), serde_json::Value::Object(fields)) = (detail.as_object_mut(), fields) {
        detail.extend(fields);
    }
    detail
}

/// The puts that record `outbox`, for the transaction of the change that causes it.
pub(crate) fn outbox_writes(
    table: &str,
    outbox: &Outgoing,
) -> Result<Vec<TransactWriteItem>, RepositoryError> {
    let recording = Recording::at(Timestamp::now());
    let put = |item: Result<Item, serde_dynamo::Error>| {
        item.map_err(|error| RepositoryError::Failed(error.into()))
            .and_then(|item| items::put_new(table, item))
    };
    let emails = outbox
        .emails
        .iter()
        .map(|email| put(serde_dynamo::to_item(OutboxItem::record(email, &recording))));
    let events = outbox
        .events
        .iter()
        .map(|event| put(serde_dynamo::to_item(EventItem::record(event, &recording))));
    emails.chain(events).collect()
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

    /// Sends again every email and event recorded before `cutoff` and still waiting
    /// (dead-lettered, or stuck): each item is written back under a new id, a new insert on the
    /// stream, and the old one deleted, in one transaction (an event keeps its `event_id`, so
    /// consumers that saw it drop it). An operator's tool, so it scans; returns how many.
    pub async fn redrive(&self, cutoff: Timestamp) -> Result<usize, RepositoryError> {
        let mut redriven = 0;
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("entity IN (:outbox, :event) AND recorded_at < :cutoff")
                .expression_attribute_values(":outbox", AttributeValue::S(OUTBOX_ENTITY.to_owned()))
                .expression_attribute_values(":event", AttributeValue::S(EVENT_ENTITY.to_owned()))
                .expression_attribute_values(":cutoff", AttributeValue::S(cutoff.to_rfc3339()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(repository_error)?;
            for item in page.items() {
                if self.write_back(item.clone()).await? {
                    redriven += 1;
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(redriven);
            }
        }
    }

    /// The item under a new id, the old one gone; `false` when the mailer or the publisher
    /// sent and deleted it meanwhile.
    async fn write_back(&self, stuck: Item) -> Result<bool, RepositoryError> {
        let key_of = |name: &str| {
            stuck
                .get(name)
                .cloned()
                .map(|value| (name.to_owned(), value))
        };
        let old_key: Item = [key_of(PARTITION_KEY), key_of(SORT_KEY)]
            .into_iter()
            .collect::<Option<_>>()
            .ok_or_else(|| corrupt_item("an outbox item without its key"))?;
        let id = uuid::Uuid::now_v7().to_string();
        let mut item = stuck;
        item.insert(
            PARTITION_KEY.to_owned(),
            AttributeValue::S(format!("{OUTBOX_PREFIX}{id}")),
        );
        item.insert("id".to_owned(), AttributeValue::S(id));
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

impl EventOutbox for DynamoOutbox {
    async fn pending(&self, ids: &[&str]) -> Result<Vec<String>, RepositoryError> {
        let mut pending = Vec::new();
        // A stream batch holds at most ten; BatchGetItem takes a hundred keys.
        for chunk in ids.chunks(100) {
            let keys = chunk.iter().map(|id| event_key(id)).collect();
            let found = items::read_many(&self.client, &self.table, keys).await?;
            pending.extend(
                chunk
                    .iter()
                    .zip(found)
                    .filter(|(_, item)| item.is_some())
                    .map(|(id, _)| (*id).to_owned()),
            );
        }
        Ok(pending)
    }

    async fn forget(&self, ids: &[&str]) -> Result<(), RepositoryError> {
        for chunk in ids.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|id| {
                    DeleteRequest::builder()
                        .set_key(Some(event_key(id)))
                        .build()
                        .map(|delete| WriteRequest::builder().delete_request(delete).build())
                        .map_err(build_failed)
                })
                .collect::<Result<_, _>>()?;
            // Deletes DynamoDB leaves unprocessed (under throttling) are asked for again.
            for _ in 0..4 {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(repository_error)?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut tables| tables.remove(&self.table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            if !requests.is_empty() {
                return Err(RepositoryError::Unavailable(
                    "DynamoDB kept leaving deletes of published events unprocessed".into(),
                ));
            }
        }
        Ok(())
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
        let item = OutboxItem::record(&email, &Recording::at(now));
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
