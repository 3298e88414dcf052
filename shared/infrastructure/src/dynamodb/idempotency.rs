use super::errors::{corrupt_item, repository_error};
use super::items::{self, Item};
use ::idempotency::{IdempotencyClaim, IdempotencyStore, StoredResponse};
use application::ports::RepositoryError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::Timestamp;

const PREFIX: &str = "IDEMPOTENCY#";
const SORT_KEY: &str = "RECORD";
/// Records live an hour (TTL, and checked here since TTL deletes late).
const RECORD_SECONDS: i64 = 60 * 60;
/// An in-progress record older than this belongs to an invocation that died (the functions
/// time out after 10 s): a retry may take the key over.
const IN_PROGRESS_SECONDS: i64 = 30;
const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

fn key(idempotency_key: &str) -> Item {
    items::key(format!("{PREFIX}{idempotency_key}"), SORT_KEY)
}

fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn number(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn seconds(at: Timestamp) -> i64 {
    at.as_millis().div_euclid(1000)
}

/// A record of `status` for the request that hashes to `request_hash`, living an hour from
/// `now`, with the attributes of that status.
fn record<const N: usize>(
    idempotency_key: &str,
    status: &str,
    request_hash: &str,
    now: Timestamp,
    attributes: [(&str, AttributeValue); N],
) -> Item {
    let mut item = key(idempotency_key);
    item.extend([
        ("entity".to_owned(), string("idempotency")),
        ("status".to_owned(), string(status)),
        ("request_hash".to_owned(), string(request_hash)),
        (
            "expires_at".to_owned(),
            number(seconds(now) + RECORD_SECONDS),
        ),
    ]);
    item.extend(
        attributes
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    item
}

/// Adds to a write request (put or delete) the condition under which the holder of a key may
/// complete or release it: the record is still in progress, for this request.
macro_rules! held_by {
    ($request:expr, $request_hash:expr) => {
        $request
            .condition_expression("#status = :in_progress AND request_hash = :hash")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", string(IN_PROGRESS))
            .expression_attribute_values(":hash", string($request_hash))
    };
}

/// Idempotency records in the one table, keyed by the hashed, route-scoped key.
#[derive(Debug, Clone)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn read(&self, idempotency_key: &str) -> Result<Option<Item>, RepositoryError> {
        items::read(&self.client, &self.table, key(idempotency_key)).await
    }
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .map(String::as_str)
}

fn stored_response(item: &Item) -> Result<StoredResponse, RepositoryError> {
    let corrupt = || corrupt_item("an idempotency record holds no readable response");
    let status = item
        .get("response_status")
        .and_then(|value| value.as_n().ok())
        .and_then(|raw| raw.parse().ok())
        .ok_or_else(corrupt)?;
    let headers = item
        .get("response_headers")
        .and_then(|value| value.as_m().ok())
        .map(|map| {
            map.iter()
                .filter_map(|(name, value)| Some((name.clone(), value.as_s().ok()?.clone())))
                .collect()
        })
        .unwrap_or_default();
    let body = text(item, "response_body").unwrap_or_default().to_owned();
    Ok(StoredResponse {
        status,
        headers,
        body,
    })
}

impl IdempotencyStore for DynamoIdempotencyStore {
    async fn claim(
        &self,
        idempotency_key: &str,
        request_hash: &str,
        now: Timestamp,
    ) -> Result<IdempotencyClaim, RepositoryError> {
        let item = record(
            idempotency_key,
            IN_PROGRESS,
            request_hash,
            now,
            [(
                "in_progress_until",
                number(seconds(now) + IN_PROGRESS_SECONDS),
            )],
        );
        let taken = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR expires_at <= :now \
                 OR (#status = :in_progress AND in_progress_until <= :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":now", number(seconds(now)))
            .expression_attribute_values(":in_progress", string(IN_PROGRESS))
            .send()
            .await;
        match taken {
            Ok(_) => return Ok(IdempotencyClaim::Acquired),
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    PutItemError::ConditionalCheckFailedException(_)
                ) => {}
            Err(error) => return Err(repository_error(error)),
        }
        // A live record holds the key: whose, and how far along?
        let Some(existing) = self.read(idempotency_key).await? else {
            // Released between the two calls: the holder failed and a retry is welcome.
            return Ok(IdempotencyClaim::InProgress);
        };
        if text(&existing, "request_hash") != Some(request_hash) {
            return Ok(IdempotencyClaim::Mismatch);
        }
        match text(&existing, "status") {
            Some(COMPLETED) => Ok(IdempotencyClaim::Replay(stored_response(&existing)?)),
            _ => Ok(IdempotencyClaim::InProgress),
        }
    }

    async fn complete(
        &self,
        idempotency_key: &str,
        request_hash: &str,
        response: &StoredResponse,
        now: Timestamp,
    ) -> Result<(), RepositoryError> {
        let headers = response
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), string(value.as_str())))
            .collect();
        let item = record(
            idempotency_key,
            COMPLETED,
            request_hash,
            now,
            [
                ("response_status", number(i64::from(response.status))),
                ("response_headers", AttributeValue::M(headers)),
                ("response_body", string(response.body.as_str())),
            ],
        );
        let put = self.client.put_item().table_name(&self.table);
        held_by!(put.set_item(Some(item)), request_hash)
            .send()
            .await
            .map_err(repository_error)?;
        Ok(())
    }

    async fn release(
        &self,
        idempotency_key: &str,
        request_hash: &str,
    ) -> Result<(), RepositoryError> {
        let delete = self.client.delete_item().table_name(&self.table);
        held_by!(delete.set_key(Some(key(idempotency_key))), request_hash)
            .send()
            .await
            .map_err(repository_error)?;
        Ok(())
    }
}
