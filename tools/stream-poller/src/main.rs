//! `make run`'s stand-in for Lambda's DynamoDB event source mappings. It reads the local
//! table's stream (DynamoDB Local has streams) twice over, as the template's two mappings do:
//! inserted outbox emails to the mailer, inserted outbox events to the publisher, each
//! invoked through `cargo lambda watch` with the event Lambda sends. Like a mapping, each
//! retries from the lowest failed record, with backoff, and after the last retry dead-letters
//! the record: a message on its local SQS queue (moto), as Lambda sends to the mapping's
//! on-failure destination. The two follow the stream apart, so a stuck bus holds up no email.

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
    let invoke_base = setting("INVOKE_URL", "http://127.0.0.1:9000/2015-03-31/functions");
    let queue_url = std::env::var("DEAD_LETTER_QUEUE_URL")
        .context("DEAD_LETTER_QUEUE_URL names the dead-letter queue")?;
    let event_queue_url = std::env::var("EVENT_DEAD_LETTER_QUEUE_URL")
        .context("EVENT_DEAD_LETTER_QUEUE_URL names the publisher's dead-letter queue")?;
    // Region, credentials and the SQS endpoint (AWS_ENDPOINT_URL_SQS) from local.env.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let consumer = |function: &str, queue_url: String| {
        let dead_letters = SqsDeadLetters::new(
            aws_sdk_sqs::Client::new(&sdk),
            queue_url,
            function.to_owned(),
        );
        let invoker = HttpInvoker::new(format!("{invoke_base}/{function}/invocations"));
        (invoker, dead_letters)
    };
    let policy = RetryPolicy {
        max_attempts: setting("MAILER_MAX_ATTEMPTS", "8")
            .parse()
            .context("MAILER_MAX_ATTEMPTS is a number")?,
        first_backoff: Duration::from_millis(250),
        max_backoff: Duration::from_millis(
            setting("POLLER_MAX_BACKOFF_MS", "4000")
                .parse()
                .context("POLLER_MAX_BACKOFF_MS is a number")?,
        ),
    };
    let (mail_invoker, mail_dead_letters) = consumer("send-email", queue_url);
    let (event_invoker, event_dead_letters) = consumer("publish-events", event_queue_url);
    mail_invoker.wait_until_listening().await;
    let mail = Delivery::new(mail_invoker, mail_dead_letters, policy);
    let events = Delivery::new(event_invoker, event_dead_letters, policy);
    tokio::try_join!(
        stream::follow(&dynamodb_url, &table, "outbox", &mail),
        stream::follow(&dynamodb_url, &table, "event", &events),
    )?;
    Ok(())
}
