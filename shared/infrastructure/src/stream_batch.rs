//! What the two consumers of the table's stream (the mailer and the publisher) share: picking
//! their outbox items out of a batch of stream records, the partial-batch response Lambda
//! retries from, and one EMF metrics record per batch.

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::de::DeserializeOwned;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The outbox items of `entity` the records insert, each with its sequence number, and the
/// sequence numbers of such items that could not be read (`read` answered `None`). Records of
/// any other change are left out: the stream filter lets none through.
pub fn items_of<I: DeserializeOwned, T>(
    records: Vec<EventRecord>,
    entity: &str,
    read: impl Fn(I) -> Option<T>,
) -> (Vec<(String, T)>, Vec<String>) {
    let mut items = Vec::new();
    let mut unreadable = Vec::new();
    for record in records {
        let sequence_number = record.change.sequence_number.clone().unwrap_or_default();
        let of_entity = record
            .change
            .new_image
            .get("entity")
            .is_some_and(|value| *value == serde_dynamo::AttributeValue::S(entity.to_owned()));
        if record.event_name != "INSERT" || !of_entity {
            continue;
        }
        match serde_dynamo::from_item::<_, I>(record.change.new_image)
            .ok()
            .and_then(&read)
        {
            Some(item) => items.push((sequence_number, item)),
            // Failed, so it goes to the dead-letter queue after its retries, never vanishes.
            None => unreadable.push(sequence_number),
        }
    }
    if !unreadable.is_empty() {
        tracing::error!(
            records = unreadable.len(),
            entity,
            "outbox records that are not well-formed"
        );
    }
    (items, unreadable)
}

/// The response naming every record to deliver again.
pub fn retry(failed: impl IntoIterator<Item = String>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            failure
        })
        .collect();
    response
}

/// A metric of a batch: name, unit, value (`None` leaves it out of the record).
pub type BatchMetric = (&'static str, &'static str, Option<i64>);

/// One EMF record with `metrics`, dimensioned by function, as one stdout line.
pub fn emit_metrics(default_function: &str, metrics: &[BatchMetric]) {
    let namespace = std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "UserService".to_owned());
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| default_function.to_owned());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or(0);
    let definitions: Vec<serde_json::Value> = metrics
        .iter()
        .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit}))
        .collect();
    let mut document = serde_json::json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Function"]],
                "Metrics": definitions,
            }],
        },
        "Function": function,
    });
    for (name, _, value) in metrics {
        if let Some(value) = value {
            document[*name] = (*value).into();
        }
    }
    let mut line = document.to_string();
    line.push('\n');
    // As the request metrics: the whole line is the EMF document.
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

/// The stream record Lambda would deliver for an inserted item (tests of the consumers).
#[cfg(test)]
pub(crate) fn stream_record(
    item: &impl serde::Serialize,
    sequence_number: &str,
) -> serde_json::Value {
    let image: serde_dynamo::Item = serde_dynamo::to_item(item).unwrap_or_default();
    serde_json::json!({
        "eventID": format!("event-{sequence_number}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_700_000_000.0,
            "Keys": {"pk": image.get("pk"), "sk": image.get("sk")},
            "NewImage": image,
            "SequenceNumber": sequence_number,
            "SizeBytes": 300,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/users/stream/2026",
    })
}
