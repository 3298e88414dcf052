//! `make run`'s stand-in for Lambda's DynamoDB event source mapping. It reads the local
//! table's stream (DynamoDB Local has streams), keeps the inserted outbox items (the template's
//! filter), and invokes the mailer through `cargo lambda watch` with the event Lambda sends.
//! Like the mapping it retries from the lowest failed record, with backoff, and after the last
//! retry it dead-letters the record: a message on the local SQS queue (moto), as Lambda sends
//! to the mapping's on-failure destination.

mod delivery;
mod stream;

use anyhow::Context;
use delivery::{Delivery, HttpInvoker, RetryPolicy, SqsDeadLetters};
use std::time::Duration;

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .init();
    let table = std::env::var("TABLE_NAME").context("TABLE_NAME names the table to follow")?;
    let dynamodb_url = setting("DYNAMODB_URL", "http://127.0.0.1:8000");
    let invoke_url = setting(
        "MAILER_INVOKE_URL",
        "http://127.0.0.1:9000/2015-03-31/functions/send-email/invocations",
    );
    let queue_url = std::env::var("DEAD_LETTER_QUEUE_URL")
        .context("DEAD_LETTER_QUEUE_URL names the dead-letter queue")?;
    // Region, credentials and the SQS endpoint (AWS_ENDPOINT_URL_SQS) from local.env.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dead_letters = SqsDeadLetters::new(
        aws_sdk_sqs::Client::new(&sdk),
        queue_url,
        "send-email".to_owned(),
    );
    let policy = RetryPolicy {
        max_attempts: setting("MAILER_MAX_ATTEMPTS", "8")
            .parse()
            .context("MAILER_MAX_ATTEMPTS is a number")?,
        first_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_secs(4),
    };
    let invoker = HttpInvoker::new(invoke_url);
    invoker.wait_until_listening().await;
    let delivery = Delivery::new(invoker, dead_letters, policy);
    stream::follow(&dynamodb_url, &table, &delivery).await
}
