//! Handing stream records to the mailer as Lambda's event source mapping does: batches of at
//! most ten, the partial-batch response honoured (the batch is retried from its lowest failed
//! record), backoff between retries, and a dead letter after the last retry.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use std::io::Write;
use std::path::PathBuf;
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

/// The local dead-letter queue: one JSON line per record given up on.
pub struct DeadLetters {
    path: PathBuf,
}

impl DeadLetters {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    fn write(&self, record: &EventRecord, attempts: u32) {
        let line = serde_json::json!({ "attempts": attempts, "record": record });
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| writeln!(file, "{line}"));
        let sequence_number = sequence_number(record);
        match written {
            Ok(()) => tracing::error!(
                "dead-lettered stream record {sequence_number} after {attempts} attempts: {}",
                self.path.display()
            ),
            Err(error) => tracing::error!(
                "could not dead-letter stream record {sequence_number} ({error}); it is dropped"
            ),
        }
    }
}

fn sequence_number(record: &EventRecord) -> &str {
    record.change.sequence_number.as_deref().unwrap_or("")
}

pub struct Delivery<I> {
    invoker: I,
    dead_letters: DeadLetters,
    policy: RetryPolicy,
}

impl<I: Invoker> Delivery<I> {
    pub fn new(invoker: I, dead_letters: DeadLetters, policy: RetryPolicy) -> Self {
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
                self.dead_letters.write(&record, attempts);
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

    fn dead_letter_file(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("{name}-{}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[tokio::test]
    async fn a_batch_is_retried_from_its_lowest_failure_and_a_hopeless_record_dead_lettered() {
        let mailer = FakeMailer::new(&[3], 0);
        let path = dead_letter_file("hopeless");
        let delivery = Delivery::new(&mailer, DeadLetters::new(path.clone()), policy());
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
        let dead = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = dead
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["attempts"], 3);
        assert_eq!(lines[0]["record"]["dynamodb"]["SequenceNumber"], "3");
    }

    #[tokio::test]
    async fn a_mailer_that_comes_back_gets_every_record_and_nothing_is_dead_lettered() {
        let mailer = FakeMailer::new(&[], 2);
        let path = dead_letter_file("comes-back");
        let delivery = Delivery::new(&mailer, DeadLetters::new(path.clone()), policy());
        delivery.deliver((1..=12).map(record).collect()).await;
        let batches = mailer.delivered.borrow().clone();
        assert_eq!(batches.len(), 4, "two failed invocations, then two batches");
        assert_eq!(batches[2].len(), BATCH_SIZE);
        assert_eq!(batches[3], ["11", "12"]);
        assert!(!path.exists());
    }
}
