//! The events the local bus delivered (API.md, "Events"): the bus's rule puts every event of
//! source `user-service` on the SQS queue `user-events-local`. Tests of one binary share one
//! reader: whatever any of them takes off the queue is kept here for all.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static DELIVERED: Mutex<Vec<Value>> = Mutex::new(Vec::new());

fn queue_url() -> String {
    std::env::var("EVENTS_QUEUE_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8006/123456789012/user-events-local".to_owned())
}

/// Takes what is on the queue now (waiting up to a second for the first message) into
/// `DELIVERED`.
async fn take_from_the_queue(sqs: &aws_sdk_sqs::Client) {
    let queue = queue_url();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .visibility_timeout(30)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("the events queue answers");
        let messages = received.messages();
        if messages.is_empty() {
            return;
        }
        for message in messages {
            let event: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            DELIVERED.lock().unwrap().push(event);
            sqs.delete_message()
                .queue_url(&queue)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn delivered_for(user_id: &str) -> Vec<Value> {
    let mut events: Vec<Value> = DELIVERED
        .lock()
        .unwrap()
        .iter()
        .filter(|event| event["detail"]["user_id"] == user_id)
        .cloned()
        .collect();
    events.sort_by_key(|event| {
        (
            event["detail"]["occurred_at"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            event["detail"]["version"].as_u64(),
        )
    });
    events
}

/// Every event published about `user_id`, oldest first, once `count` of them arrived (within
/// `within`), after reading on for a second more so that an extra one would show.
pub async fn published_about(user_id: &str, count: usize, within: Duration) -> Vec<Value> {
    let sqs = crate::local_sqs().await;
    let deadline = Instant::now() + within;
    while delivered_for(user_id).len() < count && Instant::now() < deadline {
        take_from_the_queue(&sqs).await;
    }
    take_from_the_queue(&sqs).await;
    delivered_for(user_id)
}

/// The `detail-type`s of `events`, in order.
pub fn detail_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["detail-type"].as_str().unwrap())
        .collect()
}

/// Checks every event against its JSON Schema in docs/events/ (.devstack/validate_events.py,
/// with the Python that `make` installs); panics naming what failed.
pub fn assert_valid_against_their_schemas(events: &[Value]) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut validator = Command::new(format!("{root}/.devstack/venv/bin/python"))
        .arg(format!("{root}/.devstack/validate_events.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the project's Python (make installs it)");
    let mut input = validator.stdin.take().unwrap();
    for event in events {
        writeln!(input, "{event}").unwrap();
    }
    drop(input);
    let output = validator.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "events that break their schemas:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}
