//! The publisher: puts the events recorded in the outbox on the bus, as the table's stream
//! hands them over, and forgets each once the bus accepted it. Publication is at least once:
//! an event is published again only when a crash (or a failed forget) came between its put
//! and its forget, or when the bus accepted a put it answered too late; consumers drop the
//! repeat by its `event_id`.
//!
//! Not a `UseCase`: nobody calls it, the stream does, so there is no caller to check.

use crate::ports::{Clock, EventBus, EventOutbox, MAX_EVENTS_PER_PUT, PendingEvent};
use std::time::Duration;
use tracing::Instrument;

/// One event item as the stream delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedEvent {
    /// The stream record's sequence number: what a failure names.
    pub sequence_number: String,
    pub pending: PendingEvent,
}

/// What became of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishReport {
    /// The sequence numbers of the records to deliver again, in batch order.
    pub failed: Vec<String>,
    pub published: usize,
    /// Records whose item was forgotten already: published by an earlier delivery.
    pub skipped: usize,
    /// How long the oldest event published had waited since its change was stored.
    pub oldest_published_age_ms: Option<i64>,
}

/// Puts on the bus `B` what it reads from `O`; entries the bus refuses one by one (throttled
/// or failed inside a put that succeeded) are put again, after `pauses`, before the record is
/// named failed (and, after the stream's retries, dead-lettered).
pub struct PublishEvents<B, O, C> {
    bus: B,
    outbox: O,
    clock: C,
    pauses: Vec<Duration>,
}

/// The pauses before the second and third put of entries the bus refused.
const ENTRY_RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(400)];

impl<B: EventBus, O: EventOutbox, C: Clock> PublishEvents<B, O, C> {
    pub fn new(bus: B, outbox: O, clock: C) -> Self {
        Self {
            bus,
            outbox,
            clock,
            pauses: ENTRY_RETRY_PAUSES.to_vec(),
        }
    }

    /// Publishes every still-recorded event of the batch and names exactly the records that
    /// failed. An unavailable bus fails the rest of the batch unsent: each put would only wait
    /// out the same timeout, and the stream delivers them again.
    pub async fn publish(&self, batch: Vec<StreamedEvent>) -> PublishReport {
        let mut report = PublishReport::default();
        if batch.is_empty() {
            return report;
        }
        let order: Vec<String> = batch
            .iter()
            .map(|record| record.sequence_number.clone())
            .collect();
        let ids: Vec<&str> = batch
            .iter()
            .map(|record| record.pending.id.as_str())
            .collect();
        let still_recorded = match self.outbox.pending(&ids).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::warn!(error = %crate::error_chain(&error), "outbox unreadable; the batch is retried");
                report.failed = batch
                    .into_iter()
                    .map(|record| record.sequence_number)
                    .collect();
                return report;
            }
        };
        let (mut waiting, published_before): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|record| still_recorded.contains(&record.pending.id));
        report.skipped = published_before.len();
        if waiting.is_empty() {
            return report;
        }
        if let Err(error) = self.bus.ready().await {
            tracing::warn!(error = %crate::error_chain(&error), "event bus unavailable; the batch is retried");
            report.failed = waiting
                .into_iter()
                .map(|record| record.sequence_number)
                .collect();
            return report;
        }
        let mut published = Vec::new();
        for pause in std::iter::once(None).chain(self.pauses.iter().map(Some)) {
            if waiting.is_empty() {
                break;
            }
            if let Some(pause) = pause {
                tokio::time::sleep(*pause).await;
            }
            let (accepted, refused, unavailable) = self.put_all(waiting).await;
            published.extend(accepted);
            waiting = refused;
            if unavailable {
                break;
            }
        }
        let now = self.clock.now().as_millis();
        report.published = published.len();
        report.oldest_published_age_ms = published
            .iter()
            .map(|record: &StreamedEvent| now - record.pending.recorded_at.as_millis())
            .max();
        let ids: Vec<&str> = published
            .iter()
            .map(|record| record.pending.id.as_str())
            .collect();
        if let Err(error) = self.outbox.forget(&ids).await {
            // Published, but still recorded: a later delivery of these records publishes
            // them once more.
            tracing::warn!(error = %crate::error_chain(&error), events = ids.len(), "published events not forgotten");
        }
        report.failed = order
            .into_iter()
            .filter(|sequence_number| {
                waiting
                    .iter()
                    .any(|record| record.sequence_number == *sequence_number)
            })
            .collect();
        report
    }

    /// One put per `MAX_EVENTS_PER_PUT` records: the accepted, the refused, and whether the
    /// bus stopped answering (the records not put yet are among the refused).
    async fn put_all(
        &self,
        records: Vec<StreamedEvent>,
    ) -> (Vec<StreamedEvent>, Vec<StreamedEvent>, bool) {
        let (mut accepted, mut refused) = (Vec::new(), Vec::new());
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            let chunk: Vec<StreamedEvent> = records.by_ref().take(MAX_EVENTS_PER_PUT).collect();
            let events: Vec<PendingEvent> =
                chunk.iter().map(|record| record.pending.clone()).collect();
            // Each event's trace holds the put that carried it; the call itself (one for all)
            // nests in the first one's.
            let joined: Vec<tracing::Span> = chunk
                .iter()
                .map(|record| {
                    crate::joined_span("publish-events", record.pending.trace_header.as_deref())
                })
                .collect();
            let first = joined.first().cloned().unwrap_or_else(tracing::Span::none);
            let put = self.bus.put(&events).instrument(first).await;
            drop(joined);
            match put {
                Ok(answers) => {
                    for (record, ok) in chunk
                        .into_iter()
                        .zip(answers.into_iter().chain(std::iter::repeat(false)))
                    {
                        if ok {
                            accepted.push(record);
                        } else {
                            tracing::warn!(outbox_id = %record.pending.id, "event refused by the bus; it is put again");
                            refused.push(record);
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %crate::error_chain(&error), "event bus unavailable; the rest of the batch is retried");
                    refused.extend(chunk);
                    refused.extend(records);
                    return (accepted, refused, true);
                }
            }
        }
        (accepted, refused, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FixedClock, InMemoryOutbox, RecordingBus};
    use domain::Timestamp;

    fn record(sequence_number: u32) -> StreamedEvent {
        StreamedEvent {
            sequence_number: format!("{sequence_number:05}"),
            pending: PendingEvent {
                id: format!("event-{sequence_number}"),
                detail_type: "UserSuspended".to_owned(),
                detail: format!(r#"{{"n":{sequence_number}}}"#),
                recorded_at: Timestamp::now(),
                trace_header: None,
            },
        }
    }

    fn publisher(
        bus: &RecordingBus,
        outbox: &InMemoryOutbox,
    ) -> PublishEvents<RecordingBus, InMemoryOutbox, FixedClock> {
        let mut publisher = PublishEvents::new(bus.clone(), outbox.clone(), FixedClock::default());
        publisher.pauses = vec![Duration::ZERO; 2];
        publisher
    }

    fn recorded(outbox: &InMemoryOutbox, records: &[StreamedEvent]) {
        for record in records {
            outbox.record_event(record.pending.clone());
        }
    }

    #[tokio::test]
    async fn a_batch_is_put_in_tens_and_forgotten_once_published() {
        let (bus, outbox) = (RecordingBus::default(), InMemoryOutbox::default());
        let batch: Vec<_> = (1..=23).map(record).collect();
        recorded(&outbox, &batch);
        let report = publisher(&bus, &outbox).publish(batch).await;
        assert_eq!((report.published, report.failed.len()), (23, 0));
        assert_eq!(bus.put_sizes(), [10, 10, 3]);
        assert!(outbox.pending_events().is_empty());
    }

    #[tokio::test]
    async fn an_entry_the_bus_refuses_is_put_again_and_named_failed_only_after_its_retries() {
        let (bus, outbox) = (RecordingBus::default(), InMemoryOutbox::default());
        let batch: Vec<_> = (1..=4).map(record).collect();
        recorded(&outbox, &batch);
        // The second entry is refused once, the fourth every time.
        bus.refuse("event-2", 1);
        bus.refuse("event-4", usize::MAX);
        let report = publisher(&bus, &outbox).publish(batch).await;
        assert_eq!(report.published, 3);
        assert_eq!(report.failed, ["00004"]);
        assert_eq!(bus.published_ids(), ["event-1", "event-3", "event-2"]);
        let left: Vec<_> = outbox
            .pending_events()
            .into_iter()
            .map(|event| event.id)
            .collect();
        assert_eq!(left, ["event-4"], "the failed one stays for its retry");
    }

    #[tokio::test]
    async fn events_published_before_are_skipped_and_an_unavailable_bus_fails_the_batch_unsent() {
        let (bus, outbox) = (RecordingBus::default(), InMemoryOutbox::default());
        let batch: Vec<_> = (1..=3).map(record).collect();
        recorded(&outbox, &batch[1..]);
        bus.go_down();
        let report = publisher(&bus, &outbox).publish(batch.clone()).await;
        assert_eq!(report.failed, ["00002", "00003"]);
        assert_eq!(report.skipped, 1);
        assert!(bus.published_ids().is_empty());
        bus.come_back();
        let again = publisher(&bus, &outbox).publish(batch).await;
        assert_eq!((again.published, again.skipped), (2, 1));
        assert_eq!(bus.published_ids(), ["event-2", "event-3"], "none twice");
    }
}
