//! The SES sender against the local SES, read back through its `GET /store` mailbox.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::{EmailSender, OutgoingEmail};
use domain::Email;
use serde_json::Value;

async fn mailbox_for(address: &str) -> Vec<Value> {
    let store: Value = reqwest::get(format!("{}/store", support::ses_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    store["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|email| {
            email["destination"]["to"]
                .as_array()
                .unwrap()
                .iter()
                .any(|to| to == address)
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_sent_email_arrives_from_the_configured_sender_with_its_text() {
    let address = format!("{}@example.com", uuid::Uuid::new_v4());
    let sender = support::ses_sender("no-reply@users.example.com").await;
    let email = OutgoingEmail::new(
        Email::parse(&address).unwrap(),
        "Welcome aboard",
        "Hello Ada,\nü and ✓ survive the trip.\n",
    );
    sender.send(&email).await.unwrap();

    let received = mailbox_for(&address).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["from"], "no-reply@users.example.com");
    assert_eq!(received[0]["subject"], "Welcome aboard");
    assert_eq!(
        received[0]["body"]["text"],
        "Hello Ada,\nü and ✓ survive the trip.\n"
    );
}
