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
