//! Handing stream records to the mailer as Lambda's event source mapping does: batches of at
//! most ten, the partial-batch response honoured (the batch is retried from its lowest failed
//! record), backoff between retries, and a dead letter after the last retry: a message on an
//! SQS queue, in the shape of Lambda's on-failure record.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use std::time::Duration;

/// As the template's event source mapping.
pub const BATCH_SIZE: usize = 10;

#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Deliveries of one record before it is dead-lettered (the first included).
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

/// Invokes the mailer with one event; the sequence numbers it reports failed, or an error
/// when the invocation itself failed (which fails the whole batch).
pub trait Invoker {
    fn invoke(&self, event: &Event) -> impl Future<Output = Result<Vec<String>, String>>;
}

pub struct HttpInvoker {
    client: reqwest::Client,
    url: String,
}

impl HttpInvoker {
    pub fn new(url: String) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_default();
        Self { client, url }
    }

    /// Waits until the invoke address accepts connections: `cargo lambda watch` starts after
    /// the poller, and records must not use up their retries on an API that is not up yet.
    pub async fn wait_until_listening(&self) {
        let address = reqwest::Url::parse(&self.url).ok().and_then(|url| {
            Some(format!(
                "{}:{}",
                url.host_str()?,
                url.port_or_known_default()?
            ))
        });
        let Some(address) = address else { return };
        let mut told = false;
        while tokio::net::TcpStream::connect(&address).await.is_err() {
            if !told {
                tracing::info!("waiting for the mailer at {address}");
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Invoker for HttpInvoker {
    async fn invoke(&self, event: &Event) -> Result<Vec<String>, String> {
        let response = self
            .client
            .post(&self.url)
            .json(event)
            .send()
            .await
            .map_err(|error| format!("the mailer could not be invoked: {error}"))?;
        let status = response.status();
        let body = response.text().await.map_err(|error| error.to_string())?;
        if !status.is_success() {
            return Err(format!("the mailer failed ({status}): {body}"));
        }
        let answer: DynamoDbEventResponse = serde_json::from_str(&body)
            .map_err(|error| format!("the mailer's answer is not a batch response: {error}"))?;
        Ok(answer
            .batch_item_failures
            .into_iter()
            .filter_map(|failure| failure.item_identifier)
            .collect())
    }
}

/// Where a record goes after its last retry.
pub trait DeadLetters {
    fn send(&self, record: &EventRecord, attempts: u32) -> impl Future<Output = ()>;
}

/// The local dead-letter queue: an SQS queue on the moto server, holding the message Lambda's
/// event source mapping sends to its on-failure destination. Like Lambda's, it names the batch
/// (shard, sequence numbers, arrival) and not the records: the outbox item stays in the table
/// until it is sent, and `make redrive` hands it to the mailer again.
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    function: String,
}

impl SqsDeadLetters {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String, function: String) -> Self {
        Self {
            client,
            queue_url,
            function,
        }
    }
}

/// The on-failure record Lambda writes for a DynamoDB stream batch, for one record.
pub fn on_failure_message(
    record: &EventRecord,
    attempts: u32,
    function: &str,
) -> serde_json::Value {
    let sequence_number = sequence_number(record);
    let arrival = record
        .change
        .approximate_creation_date_time
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({
        "requestContext": {
            "requestId": uuid_like(sequence_number),
            "functionArn": format!("arn:aws:lambda:local:000000000000:function:{function}"),
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": attempts,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": ""},
        "version": "1.0",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "DDBStreamBatchInfo": {
            "shardId": "local",
            "startSequenceNumber": sequence_number,
            "endSequenceNumber": sequence_number,
            "approximateArrivalOfFirstRecord": arrival,
            "approximateArrivalOfLastRecord": arrival,
            "batchSize": 1,
            "streamArn": record.event_source_arn.clone().unwrap_or_default(),
        },
    })
}

fn uuid_like(sequence_number: &str) -> String {
    format!("local-{sequence_number}")
}

impl DeadLetters for SqsDeadLetters {
    async fn send(&self, record: &EventRecord, attempts: u32) {
        let body = on_failure_message(record, attempts, &self.function).to_string();
        let sent = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await;
        let sequence_number = sequence_number(record);
        match sent {
            Ok(_) => tracing::error!(
                "dead-lettered stream record {sequence_number} after {attempts} attempts: {}",
                self.queue_url
            ),
            Err(error) => tracing::error!(
                "could not dead-letter stream record {sequence_number} ({error}); its outbox item stays for make redrive"
            ),
        }
    }
}

fn sequence_number(record: &EventRecord) -> &str {
    record.change.sequence_number.as_deref().unwrap_or("")
}

pub struct Delivery<I, D> {
    invoker: I,
    dead_letters: D,
    policy: RetryPolicy,
}

impl<I: Invoker, D: DeadLetters> Delivery<I, D> {
    pub fn new(invoker: I, dead_letters: D, policy: RetryPolicy) -> Self {
        Self {
            invoker,
            dead_letters,
            policy,
        }
    }

    /// Delivers `records` in order, in batches; returns once each is delivered or
    /// dead-lettered.
    pub async fn deliver(&self, records: Vec<EventRecord>) {
        let mut pending = records;
        let mut attempts = 0;
        let mut backoff = self.policy.first_backoff;
        while !pending.is_empty() {
            let size = pending.len().min(BATCH_SIZE);
            let mut event = Event::default();
            event.records = pending[..size].to_vec();
            let outcome = self.invoker.invoke(&event).await;
            let retry_from = match outcome {
                Ok(failed) => pending[..size]
                    .iter()
                    .position(|record| failed.iter().any(|f| f == sequence_number(record))),
                Err(error) => {
                    tracing::warn!("{error}");
                    Some(0)
                }
            };
            let Some(first_failed) = retry_from else {
                pending.drain(..size);
                attempts = 0;
                backoff = self.policy.first_backoff;
                continue;
            };
            // The records before the lowest failure are done; retry from it.
            pending.drain(..first_failed);
            attempts = if first_failed == 0 { attempts + 1 } else { 1 };
            if attempts >= self.policy.max_attempts {
                let record = pending.remove(0);
                self.dead_letters.send(&record, attempts).await;
                attempts = 0;
                backoff = self.policy.first_backoff;
                continue;
            }
            tracing::info!(
                "retrying stream record {} in {} ms (attempt {} failed)",
                sequence_number(&pending[0]),
                backoff.as_millis(),
                attempts
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.policy.max_backoff);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::cell::RefCell;

    fn record(sequence_number: u32) -> EventRecord {
        let mut record = EventRecord::default();
        record.event_name = "INSERT".to_owned();
        record.change.sequence_number = Some(sequence_number.to_string());
        record
    }

    /// Fails the records named in `refusing` every time, and the first `down` invocations.
    struct FakeMailer {
        refusing: Vec<String>,
        down: RefCell<u32>,
        delivered: RefCell<Vec<Vec<String>>>,
    }

    impl FakeMailer {
        fn new(refusing: &[u32], down: u32) -> Self {
            Self {
                refusing: refusing.iter().map(u32::to_string).collect(),
                down: RefCell::new(down),
                delivered: RefCell::new(Vec::new()),
            }
        }
    }

    impl Invoker for &FakeMailer {
        async fn invoke(&self, event: &Event) -> Result<Vec<String>, String> {
            let batch: Vec<String> = event
                .records
                .iter()
                .map(|record| sequence_number(record).to_owned())
                .collect();
            self.delivered.borrow_mut().push(batch.clone());
            if *self.down.borrow() > 0 {
                *self.down.borrow_mut() -= 1;
                return Err("the mailer is down".to_owned());
            }
            Ok(batch
                .into_iter()
                .filter(|sequence| self.refusing.contains(sequence))
                .collect())
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        }
    }

    /// The messages a queue would hold.
    #[derive(Default)]
    struct Queue(RefCell<Vec<serde_json::Value>>);

    impl DeadLetters for &Queue {
        async fn send(&self, record: &EventRecord, attempts: u32) {
            self.0
                .borrow_mut()
                .push(on_failure_message(record, attempts, "send-email"));
        }
    }

    #[tokio::test]
    async fn a_batch_is_retried_from_its_lowest_failure_and_a_hopeless_record_dead_lettered() {
        let mailer = FakeMailer::new(&[3], 0);
        let queue = Queue::default();
        let delivery = Delivery::new(&mailer, &queue, policy());
        delivery.deliver((1..=5).map(record).collect()).await;

        let batches = mailer.delivered.borrow().clone();
        assert_eq!(batches[0], ["1", "2", "3", "4", "5"]);
        assert_eq!(
            batches[1],
            ["3", "4", "5"],
            "retried from the lowest failure"
        );
        assert_eq!(batches[2], ["3", "4", "5"]);
        assert_eq!(
            batches[3],
            ["4", "5"],
            "after 3 attempts record 3 is given up"
        );
        assert_eq!(batches.len(), 4);
        let messages = queue.0.borrow();
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        assert_eq!(message["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(
            message["requestContext"]["condition"],
            "RetryAttemptsExhausted"
        );
        assert_eq!(message["DDBStreamBatchInfo"]["startSequenceNumber"], "3");
        assert_eq!(message["DDBStreamBatchInfo"]["endSequenceNumber"], "3");
    }

    #[tokio::test]
    async fn a_mailer_that_comes_back_gets_every_record_and_nothing_is_dead_lettered() {
        let mailer = FakeMailer::new(&[], 2);
        let queue = Queue::default();
        let delivery = Delivery::new(&mailer, &queue, policy());
        delivery.deliver((1..=12).map(record).collect()).await;
        let batches = mailer.delivered.borrow().clone();
        assert_eq!(batches.len(), 4, "two failed invocations, then two batches");
        assert_eq!(batches[2].len(), BATCH_SIZE);
        assert_eq!(batches[3], ["11", "12"]);
        assert!(queue.0.borrow().is_empty());
    }
}
