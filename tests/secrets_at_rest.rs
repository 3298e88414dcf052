//! Secrets at rest (API.md): after a reset and an email change were asked for, no item of the
//! table, no record of its stream and no log line holds a mailed token, yet the mail arrives
//! and the token works. The outbox items hold the tokens sealed with KMS (moto, locally).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use reqwest::Method;
use serde_json::json;
use service_tests::{
    Api, api_log, local_dynamodb, local_streams, mailbox_for, new_user_session, reset_token,
    table_name, unique_email,
};

/// Every item of the local table, each written out whole.
async fn every_item() -> Vec<String> {
    let client = local_dynamodb().await;
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table_name())
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        items.extend(page.items().iter().map(|item| format!("{item:?}")));
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

/// Every record of the local table's stream so far, each written out whole.
async fn every_stream_record() -> Vec<String> {
    let streams = local_streams().await;
    let listed = streams
        .list_streams()
        .table_name(table_name())
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for stream in listed.streams() {
        let arn = stream.stream_arn().unwrap();
        let described = streams
            .describe_stream()
            .stream_arn(arn)
            .send()
            .await
            .unwrap();
        let shards = described.stream_description().unwrap().shards().to_vec();
        for shard in shards {
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(shard.shard_id().unwrap())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator;
            // An open shard always hands out a next iterator: stop at the first empty page.
            while let Some(current) = iterator {
                let page = streams
                    .get_records()
                    .shard_iterator(current)
                    .send()
                    .await
                    .unwrap();
                if page.records().is_empty() {
                    break;
                }
                records.extend(page.records().iter().map(|record| format!("{record:?}")));
                iterator = page.next_shard_iterator;
            }
        }
    }
    records
}

fn token_line(text: &str) -> String {
    text.lines()
        .find_map(|line| line.strip_prefix("token="))
        .expect("a token= line")
        .to_owned()
}

#[tokio::test]
async fn no_item_and_no_stream_record_holds_a_mailed_token_yet_each_token_works() {
    // Signing up sets the password through a reset token: the first mailed token.
    let ada = new_user_session("sealed").await;
    let reset = reset_token(&ada.email).await;
    let new_email = unique_email("sealed-moved");
    let asked = ada
        .api()
        .send_json(
            Method::PUT,
            &format!("/users/{}/email", ada.id),
            &json!({ "email": new_email }),
        )
        .await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    let mail = mailbox_for(&new_email).await;
    assert_eq!(mail.len(), 1);
    let change = token_line(mail[0]["body"]["text"].as_str().unwrap());

    let items = every_item().await;
    let records = every_stream_record().await;
    for token in [&reset, &change] {
        assert!(!items.iter().any(|item| item.contains(token.as_str())));
        assert!(!records.iter().any(|record| record.contains(token.as_str())));
    }
    let poller_log = std::env::var("POLLER_LOG").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.devstack/run/poller.log").to_owned()
    });
    let logs = [api_log(), std::fs::read_to_string(poller_log).unwrap()];
    for token in [&reset, &change] {
        assert!(
            !logs.iter().any(|log| log.contains(token.as_str())),
            "a token in a log"
        );
    }
    // The records were read: the email-change email's outbox insert is among them, sealed.
    let sealed_insert = records
        .iter()
        .find(|record| record.contains(&new_email) && record.contains("ciphertext"));
    assert!(
        sealed_insert.is_some(),
        "the outbox record of the token email"
    );

    let confirmed = Api::anonymous()
        .send_json(
            Method::POST,
            "/email-change/confirm",
            &json!({ "token": change }),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["email"], new_email);
}
