//! The `send-email` function's glue: the table's stream records (as Lambda's event source
//! mapping, or the local poller, hands them over) into the mailer's batch, and its report into
//! the partial-batch response Lambda retries from, plus one metrics record per batch.

use crate::dynamodb::OutboxItem;
use application::delivery::{DeliverEmails, DeliveryReport, StreamedEmail};
use application::ports::{Clock, EmailSender, Outbox, SecretSealer};
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Runs the Lambda loop with the mailer.
pub async fn run<S: EmailSender, O: Outbox, K: SecretSealer, C: Clock>(
    mailer: DeliverEmails<S, O, K, C>,
) -> Result<(), Error> {
    let mailer = &mailer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(handle(mailer, event.payload).await)
    }))
    .await
}

/// Delivers the batch; the response names every record to deliver again.
pub async fn handle<S: EmailSender, O: Outbox, K: SecretSealer, C: Clock>(
    mailer: &DeliverEmails<S, O, K, C>,
    event: Event,
) -> DynamoDbEventResponse {
    let mut unreadable = Vec::new();
    let mut batch = Vec::new();
    for record in event.records {
        match streamed(record) {
            Ok(Some(email)) => batch.push(email),
            // Not an inserted outbox item: the filter lets none through, and none is ours.
            Ok(None) => {}
            // Failed, so it goes to the dead-letter queue after its retries, never vanishes.
            Err(sequence_number) => unreadable.push(sequence_number),
        }
    }
    if !unreadable.is_empty() {
        tracing::error!(
            records = unreadable.len(),
            "outbox records that are not well-formed"
        );
    }
    let report = mailer.deliver(batch).await;
    emit_metrics(&report, unreadable.len());
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = unreadable
        .into_iter()
        .chain(report.failed)
        .map(|sequence_number| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(sequence_number);
            failure
        })
        .collect();
    response
}

/// The outbox email a stream record carries: `Ok(None)` for any other change, `Err` with
/// the sequence number for an outbox item that cannot be read.
fn streamed(record: EventRecord) -> Result<Option<StreamedEmail>, String> {
    let sequence_number = record.change.sequence_number.clone().unwrap_or_default();
    let is_outbox = record.change.new_image.get("entity").is_some_and(|entity| {
        *entity == serde_dynamo::AttributeValue::S(crate::OUTBOX_ENTITY.to_owned())
    });
    if record.event_name != "INSERT" || !is_outbox {
        return Ok(None);
    }
    serde_dynamo::from_item::<_, OutboxItem>(record.change.new_image)
        .ok()
        .and_then(OutboxItem::into_pending)
        .map(|pending| {
            Some(StreamedEmail {
                sequence_number: sequence_number.clone(),
                pending,
            })
        })
        .ok_or(sequence_number)
}

/// One EMF record per batch: `EmailsSent`, `EmailsFailed` (each retried, and dead-lettered
/// after the last retry), `EmailsSkipped` (sent before), `OldestEmailAge` (ms from the change
/// to the send, the backlog's best gauge).
fn emit_metrics(report: &DeliveryReport, unreadable: usize) {
    let namespace = std::env::var("METRICS_NAMESPACE").unwrap_or_else(|_| "UserService".to_owned());
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "send-email".to_owned());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis())
        .unwrap_or(0);
    let mut document = serde_json::json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Function"]],
                "Metrics": [
                    {"Name": "EmailsSent", "Unit": "Count"},
                    {"Name": "EmailsFailed", "Unit": "Count"},
                    {"Name": "EmailsSkipped", "Unit": "Count"},
                    {"Name": "OldestEmailAge", "Unit": "Milliseconds"},
                ],
            }],
        },
        "Function": function,
        "EmailsSent": report.sent,
        "EmailsFailed": report.failed.len() + unreadable,
        "EmailsSkipped": report.skipped,
    });
    if let Some(age) = report.oldest_sent_age_ms {
        document["OldestEmailAge"] = age.into();
    }
    let mut line = document.to_string();
    line.push('\n');
    // As the request metrics: the whole line is the EMF document.
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::fakes::{
        FakeSealer, FixedClock, InMemoryOutbox, InMemoryUsers, RecordingMailer,
    };
    use application::ports::{OutgoingEmail, UserRepository};
    use domain::{Email, User, UserId, UserName};

    /// The stream record Lambda would deliver for this outbox item.
    fn record(item: &OutboxItem, sequence_number: &str) -> serde_json::Value {
        let image: serde_dynamo::Item = serde_dynamo::to_item(item).unwrap();
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

    #[tokio::test]
    async fn a_lambda_event_is_delivered_and_exactly_the_failed_records_are_named() {
        let users = InMemoryUsers::default();
        let outbox: InMemoryOutbox = users.outbox().clone();
        for (index, to) in ["ok@example.com", "refused@example.com"].iter().enumerate() {
            let user = User::register(
                UserId::generate(),
                Email::parse(&format!("user{index}@example.com")).unwrap(),
                UserName::parse("Someone").unwrap(),
                FixedClock::default().now(),
            );
            let email = OutgoingEmail::new(Email::parse(to).unwrap(), "Hi", "Hello.\n");
            users.insert(&user, &[email]).await.unwrap();
        }
        let records: Vec<serde_json::Value> = outbox
            .pending()
            .iter()
            .enumerate()
            .map(|(index, pending)| {
                record(&OutboxItem::of_pending(pending), &format!("{}", 100 + index))
            })
            .chain([serde_json::json!({
                "eventID": "garbled", "eventName": "INSERT", "awsRegion": "us-east-1",
                "dynamodb": {"NewImage": {"entity": {"S": "outbox"}}, "SequenceNumber": "900", "SizeBytes": 10},
            })])
            .collect();
        let event: Event =
            serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
        let sender = RecordingMailer::refusing("refused@");
        let mailer = DeliverEmails::new(
            sender.clone(),
            outbox.clone(),
            FakeSealer::default(),
            FixedClock::default(),
        );
        let response = handle(&mailer, event).await;
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.clone().unwrap())
            .collect();
        assert_eq!(
            failed,
            ["900", "101"],
            "the unreadable and the refused, nothing else"
        );
        assert_eq!(sender.sent().len(), 1);
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["batchItemFailures"][1]["itemIdentifier"], "101");
    }
}
