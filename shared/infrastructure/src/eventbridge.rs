//! The event bus: EventBridge `PutEvents` on the service's bus (API.md, "Events").

use crate::aws_errors::AwsFailure;
use application::ports::{BoxError, EventBus, PendingEvent, PublishError};
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

/// The `source` of every event the service publishes.
pub const EVENT_SOURCE: &str = "user-service";

/// How long the readiness check waits: a bus that cannot answer this gets nothing now.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Puts events on one bus, `EVENT_BUS_NAME`.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    fn entry(&self, event: &PendingEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(&event.detail_type)
            .detail(&event.detail)
            .time(DateTime::from_millis(event.recorded_at.as_millis()))
            // The trace goes on into the rules' targets.
            .set_trace_header(event.trace_header.clone())
            .build()
    }
}

fn unavailable(error: impl Into<BoxError>) -> PublishError {
    PublishError::Unavailable(error.into())
}

impl EventBus for EventBridgeBus {
    async fn ready(&self) -> Result<(), PublishError> {
        let describe = self.client.describe_event_bus().name(&self.bus).send();
        match tokio::time::timeout(READY_TIMEOUT, describe).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                // Any answer but "later" shows the service is there: a refusal of this call
                // (no permission to describe the bus) is no reason to hold the events back.
                let failure = AwsFailure::from_sdk("EventBridge DescribeEventBus", &error);
                if failure.transient {
                    Err(unavailable(failure))
                } else {
                    Ok(())
                }
            }
            Err(_elapsed) => Err(unavailable("EventBridge DescribeEventBus: timed out")),
        }
    }

    async fn put(&self, events: &[PendingEvent]) -> Result<Vec<bool>, PublishError> {
        let output = self
            .client
            .put_events()
            .set_entries(Some(events.iter().map(|event| self.entry(event)).collect()))
            .send()
            .await
            .map_err(|error| unavailable(AwsFailure::from_sdk("EventBridge PutEvents", &error)))?;
        // One result per entry, in order: an event id when accepted, an error code when not.
        let results = output.entries();
        Ok((0..events.len())
            .map(|at| {
                results.get(at).is_some_and(|result| {
                    result.error_code().is_none() && result.event_id().is_some()
                })
            })
            .collect())
    }
}
