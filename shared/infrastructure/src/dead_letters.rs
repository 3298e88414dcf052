//! `make redrive`: the mailer's dead-letter queue, emptied into the outbox again.
//!
//! A message on the queue is Lambda's on-failure record of a stream batch (locally, the stream
//! poller writes the same shape): it names the batch, not the emails. The emails themselves
//! are still in the table, since the mailer forgets an outbox item only once it is sent. So
//! each message gives a time (when its batch was given up: every email of the batch was
//! recorded before it), every outbox item recorded before the latest of those times and still
//! waiting is written back under a new id (a new insert for the stream, hence for the mailer),
//! and then the messages are deleted. The batch's arrival times would be tighter, but streams
//! round them (to the second in AWS, to the minute in DynamoDB Local). An item still being
//! retried when its time came may be sent twice: delivery is at least once anyway.
//! When the redrive fails, the messages stay and come back after their visibility timeout.

use crate::DynamoOutbox;
use crate::aws_errors::AwsFailure;
use application::ports::BoxError;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use domain::Timestamp;

/// Long enough for a redrive of a full queue; a message comes back after it if not deleted.
const VISIBILITY_TIMEOUT_SECONDS: i32 = 300;

/// What a redrive did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Redriven {
    /// Dead-letter messages read and deleted.
    pub messages: usize,
    /// Outbox items handed to the mailer again.
    pub emails: usize,
    /// Messages that are not on-failure records: left on the queue for a person to read.
    pub unreadable: usize,
}

pub struct DeadLetterQueue {
    client: Client,
    queue_url: String,
}

impl DeadLetterQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.queue_url
    }

    pub async fn redrive(&self, outbox: &DynamoOutbox) -> Result<Redriven, BoxError> {
        let mut redriven = Redriven::default();
        let mut cutoff: Option<Timestamp> = None;
        let mut handles = Vec::new();
        loop {
            let received = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(VISIBILITY_TIMEOUT_SECONDS)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(|error| AwsFailure::from_sdk("SQS ReceiveMessage", &error))?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                match message.body().and_then(batch_cutoff) {
                    Some(at) => {
                        cutoff = cutoff.max(Some(at));
                        handles.extend(message.receipt_handle);
                    }
                    None => redriven.unreadable += 1,
                }
            }
        }
        if let Some(cutoff) = cutoff {
            redriven.emails = outbox.redrive(cutoff).await?;
        }
        for chunk in handles.chunks(10) {
            self.delete(chunk).await?;
            redriven.messages += chunk.len();
        }
        Ok(redriven)
    }

    async fn delete(&self, handles: &[String]) -> Result<(), BoxError> {
        let entries = handles
            .iter()
            .enumerate()
            .map(|(index, handle)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(handle)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.client
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|error| AwsFailure::from_sdk("SQS DeleteMessageBatch", &error))?;
        Ok(())
    }
}

/// When the batch was given up. `None` for a message that is not an on-failure record of a
/// stream batch.
fn batch_cutoff(body: &str) -> Option<Timestamp> {
    let message: serde_json::Value = serde_json::from_str(body).ok()?;
    message.get("DDBStreamBatchInfo")?;
    Timestamp::parse_rfc3339(message.get("timestamp")?.as_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_when_the_batch_was_given_up() {
        let body = serde_json::json!({
            "requestContext": {"condition": "RetryAttemptsExhausted"},
            "timestamp": "2026-12-07T10:00:30.000Z",
            "DDBStreamBatchInfo": {
                "approximateArrivalOfFirstRecord": "2026-12-07T10:00:00.000Z",
                "approximateArrivalOfLastRecord": "2026-12-07T10:00:02.000Z",
                "batchSize": 3,
            },
        })
        .to_string();
        assert_eq!(
            batch_cutoff(&body),
            Timestamp::parse_rfc3339("2026-12-07T10:00:30.000Z")
        );
    }

    #[test]
    fn a_message_that_is_not_an_on_failure_record_has_no_cutoff() {
        assert_eq!(batch_cutoff("not json"), None);
        assert_eq!(batch_cutoff(r#"{"Records": []}"#), None);
    }
}
