//! The `publish-events` function's glue: the table's stream records (as Lambda's event source
//! mapping, or the local poller, hands them over) into the publisher's batch, and its report
//! into the partial-batch response Lambda retries from, plus one metrics record per batch.

use crate::dynamodb::{EVENT_ENTITY, EventItem};
use crate::stream_batch;
use application::ports::{Clock, EventBus, EventOutbox};
use application::publishing::{PublishEvents, PublishReport, StreamedEvent};
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use tracing::Instrument;

/// Runs the Lambda loop with the publisher.
pub async fn run<B: EventBus, O: EventOutbox, C: Clock>(
    publisher: PublishEvents<B, O, C>,
) -> Result<(), Error> {
    let publisher = &publisher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let invocation = xray::invocation_span();
        Ok::<_, Error>(
            handle(publisher, event.payload)
                .instrument(invocation)
                .await,
        )
    }))
    .await
}

/// Publishes the batch; the response names every record to deliver again.
pub async fn handle<B: EventBus, O: EventOutbox, C: Clock>(
    publisher: &PublishEvents<B, O, C>,
    event: Event,
) -> DynamoDbEventResponse {
    let (events, unreadable) =
        stream_batch::items_of(event.records, EVENT_ENTITY, EventItem::into_pending);
    let batch = events
        .into_iter()
        .map(|(sequence_number, pending)| StreamedEvent {
            sequence_number,
            pending,
        })
        .collect();
    let report = publisher.publish(batch).await;
    emit_metrics(&report, unreadable.len());
    stream_batch::retry(unreadable.into_iter().chain(report.failed))
}

/// One EMF record per batch: `EventsPublished`, `EventsFailed` (each retried, and
/// dead-lettered after the last retry), `EventsSkipped` (published before), `OldestEventAge`
/// (ms from the change to the bus).
fn emit_metrics(report: &PublishReport, unreadable: usize) {
    let count = |n: usize| Some(i64::try_from(n).unwrap_or(i64::MAX));
    stream_batch::emit_metrics(
        "publish-events",
        &[
            ("EventsPublished", "Count", count(report.published)),
            (
                "EventsFailed",
                "Count",
                count(report.failed.len() + unreadable),
            ),
            ("EventsSkipped", "Count", count(report.skipped)),
            (
                "OldestEventAge",
                "Milliseconds",
                report.oldest_published_age_ms,
            ),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::fakes::{FixedClock, InMemoryOutbox, RecordingBus};
    use application::ports::PendingEvent;
    use domain::Timestamp;

    #[tokio::test]
    async fn a_lambda_event_is_published_and_exactly_the_failed_records_are_named() {
        let outbox = InMemoryOutbox::default();
        let bus = RecordingBus::default();
        let mut records = Vec::new();
        for (index, id) in ["event-ok", "event-refused"].iter().enumerate() {
            let pending = PendingEvent {
                id: (*id).to_owned(),
                detail_type: "UserSuspended".to_owned(),
                detail: r#"{"status":"suspended"}"#.to_owned(),
                recorded_at: Timestamp::now(),
                trace_header: None,
            };
            outbox.record_event(pending.clone());
            records.push(stream_batch::stream_record(
                &EventItem::of_pending(&pending),
                &format!("{}", 100 + index),
            ));
        }
        records.push(serde_json::json!({
            "eventID": "garbled", "eventName": "INSERT", "awsRegion": "us-east-1",
            "dynamodb": {"NewImage": {"entity": {"S": "event"}}, "SequenceNumber": "900", "SizeBytes": 10},
        }));
        bus.refuse("event-refused", usize::MAX);
        let event: Event =
            serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
        let publisher = PublishEvents::new(bus.clone(), outbox.clone(), FixedClock::default());
        let response = handle(&publisher, event).await;
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
        assert_eq!(bus.published_ids(), ["event-ok"]);
        let left: Vec<_> = outbox
            .pending_events()
            .into_iter()
            .map(|event| event.id)
            .collect();
        assert_eq!(left, ["event-refused"], "kept for its retry");
    }
}
