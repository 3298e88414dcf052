//! The `send-email` function's glue: the table's stream records (as Lambda's event source
//! mapping, or the local poller, hands them over) into the mailer's batch, and its report into
//! the partial-batch response Lambda retries from, plus one metrics record per batch.

use crate::dynamodb::OutboxItem;
use crate::stream_batch;
use application::delivery::{DeliverEmails, DeliveryReport, StreamedEmail};
use application::ports::{Clock, EmailSender, Outbox, SecretSealer};
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tracing::Instrument;

/// Runs the Lambda loop with the mailer.
pub async fn run<S: EmailSender, O: Outbox, K: SecretSealer, C: Clock>(
    mailer: DeliverEmails<S, O, K, C>,
) -> Result<(), Error> {
    let mailer = &mailer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let invocation = xray::invocation_span();
        Ok::<_, Error>(handle(mailer, event.payload).instrument(invocation).await)
    }))
    .await
}

/// Delivers the batch; the response names every record to deliver again.
pub async fn handle<S: EmailSender, O: Outbox, K: SecretSealer, C: Clock>(
    mailer: &DeliverEmails<S, O, K, C>,
    event: Event,
) -> DynamoDbEventResponse {
    let (emails, unreadable) = stream_batch::items_of(
        event.records,
        crate::OUTBOX_ENTITY,
        OutboxItem::into_pending,
    );
    let batch = emails
        .into_iter()
        .map(|(sequence_number, pending)| StreamedEmail {
            sequence_number,
            pending,
        })
        .collect();
    let report = mailer.deliver(batch).await;
    emit_metrics(&report, unreadable.len());
    stream_batch::retry(unreadable.into_iter().chain(report.failed))
}

/// One EMF record per batch: `EmailsSent`, `EmailsFailed` (each retried, and dead-lettered
/// after the last retry), `EmailsSkipped` (sent before), `OldestEmailAge` (ms from the change
/// to the send, the backlog's best gauge).
fn emit_metrics(report: &DeliveryReport, unreadable: usize) {
    let count = |n: usize| Some(i64::try_from(n).unwrap_or(i64::MAX));
    stream_batch::emit_metrics(
        "send-email",
        &[
            ("EmailsSent", "Count", count(report.sent)),
            (
                "EmailsFailed",
                "Count",
                count(report.failed.len() + unreadable),
            ),
            ("EmailsSkipped", "Count", count(report.skipped)),
            ("OldestEmailAge", "Milliseconds", report.oldest_sent_age_ms),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::fakes::{
        FakeSealer, FixedClock, InMemoryOutbox, InMemoryUsers, RecordingMailer,
    };
    use application::ports::{Outgoing, OutgoingEmail, UserRepository};
    use domain::{Email, User, UserId, UserName};

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
            users.insert(&user, &Outgoing::email(email)).await.unwrap();
        }
        let records: Vec<serde_json::Value> = outbox
            .pending()
            .iter()
            .enumerate()
            .map(|(index, pending)| {
                stream_batch::stream_record(
                    &OutboxItem::of_pending(pending),
                    &format!("{}", 100 + index),
                )
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
