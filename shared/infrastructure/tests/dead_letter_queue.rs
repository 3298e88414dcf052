//! `make redrive` against moto's SQS and DynamoDB Local: the dead letters' emails, still in the
//! outbox, go to the mailer again, and the messages are gone; anything else stays on the queue.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::Outgoing;
use application::ports::{OutgoingEmail, UserRepository};
use domain::{Email, Timestamp};
use infrastructure::dead_letters::{DeadLetterQueue, Redriven};
use infrastructure::{DynamoOutbox, DynamoUserRepository};
use support::{fresh_table, sqs, user};

/// Lambda's on-failure record for a stream batch whose last record arrived at `arrival`.
fn on_failure(arrival: Timestamp) -> String {
    serde_json::json!({
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 8},
        "version": "1.0",
        "timestamp": Timestamp::now().to_rfc3339(),
        "DDBStreamBatchInfo": {
            "shardId": "shard-1",
            "startSequenceNumber": "100",
            "endSequenceNumber": "100",
            "approximateArrivalOfFirstRecord": arrival.to_rfc3339(),
            "approximateArrivalOfLastRecord": arrival.to_rfc3339(),
            "batchSize": 1,
        },
    })
    .to_string()
}

#[tokio::test]
async fn the_dead_letters_emails_go_to_the_mailer_again_and_the_messages_are_deleted() {
    let (client, table) = fresh_table().await;
    let users = DynamoUserRepository::new(client.clone(), table.clone());
    let address = "dead-lettered@example.com";
    let email = OutgoingEmail::new(Email::parse(address).unwrap(), "Welcome", "Hello.\n");
    users
        .insert(&user(address), &Outgoing::email(email))
        .await
        .unwrap();
    let outbox = DynamoOutbox::new(client.clone(), table.clone());

    let sqs = sqs().await;
    let queue = sqs
        .create_queue()
        .queue_name(format!("dead-letters-{}", uuid::Uuid::new_v4()))
        .send()
        .await
        .expect("moto is running (make test starts it)")
        .queue_url
        .unwrap();
    for body in [
        on_failure(Timestamp::now()),
        "not an on-failure record".to_owned(),
    ] {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    let dead_letters = DeadLetterQueue::new(sqs.clone(), &queue);
    let redriven = dead_letters.redrive(&outbox).await.unwrap();
    assert_eq!(
        redriven,
        Redriven {
            messages: 1,
            emails: 1,
            unreadable: 1
        }
    );
    let again = dead_letters.redrive(&outbox).await.unwrap();
    assert_eq!(
        (again.messages, again.emails),
        (0, 0),
        "the message was deleted; the unreadable one is hidden for its visibility timeout"
    );
}
