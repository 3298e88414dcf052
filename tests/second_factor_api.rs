//! Second factors end to end (API.md, "Second factors"): a user turns TOTP on in two steps,
//! with codes computed here from the secret the API handed out, as an authenticator app would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{Api, local_dynamodb, mailbox_for, new_user_session, table_name};
use totp_rs::{Algorithm, Secret, TOTP};

/// The authenticator app's code for `secret` (base32) at this moment.
fn code_now(secret: &str) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".to_owned())
        .unwrap()
        .generate_current()
        .unwrap()
}

/// A code of `secret` from an hour ago: well formed, and wrong now.
fn stale_code(secret: &str) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".to_owned())
        .unwrap()
        .generate(now - 3600)
}

async fn post(api: &Api, path: &str, body: Value) -> service_tests::Reply {
    api.send_json(Method::POST, path, &body).await
}

#[tokio::test]
async fn a_user_turns_totp_on_with_a_code_and_gets_recovery_codes_once() {
    let ada = new_user_session("totp").await;
    let api = ada.api();
    let enrol = format!("/users/{}/mfa/totp", ada.id);

    let started = post(&api, &enrol, json!({})).await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.header("cache-control"), Some("no-store"));
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = started.body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(&secret),
        "{uri}"
    );
    assert!(
        !uri.contains(&ada.email.replace('@', "%40")),
        "never the whole address: {uri}"
    );

    // The secret is stored sealed only.
    let item = local_dynamodb()
        .await
        .get_item()
        .table_name(table_name())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("FACTOR#{}", ada.id)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("TOTP".to_owned()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the enrolment is stored");
    let stored = format!("{item:?}");
    assert!(stored.contains("ciphertext") && !stored.contains(&secret));

    let confirm = format!("/users/{}/mfa/totp/confirm", ada.id);
    let wrong = post(&api, &confirm, json!({ "code": stale_code(&secret) })).await;
    wrong.expect_problem(400);
    let off = api.get(&format!("/users/{}", ada.id)).await;
    assert_eq!(off.body["mfa_enabled"], false);

    let confirmed = post(&api, &confirm, json!({ "code": code_now(&secret) })).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.header("cache-control"), Some("no-store"));
    let codes = confirmed.body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|code| code.as_str().unwrap().len() == 19));
    let on = api.get(&format!("/users/{}", ada.id)).await;
    assert_eq!(on.body["mfa_enabled"], true);
    let mail = mailbox_for(&ada.email).await;
    assert!(
        mail.iter()
            .any(|m| m["subject"] == "Two-step sign-in is on"),
        "the address is told"
    );

    let again = post(&api, &enrol, json!({})).await;
    let problem = again.expect_problem(409);
    assert_eq!(problem["type"], "/problems/mfa-enabled");
    let twice = post(&api, &confirm, json!({ "code": code_now(&secret) })).await;
    twice.expect_problem(409);
}

#[tokio::test]
async fn enrolment_is_the_users_own_and_a_confirmation_needs_one() {
    let grace = new_user_session("totp-own").await;
    let admin = Api::default();
    let for_grace = post(&admin, &format!("/users/{}/mfa/totp", grace.id), json!({})).await;
    for_grace.expect_problem(404);
    let nothing = post(
        &grace.api(),
        &format!("/users/{}/mfa/totp/confirm", grace.id),
        json!({ "code": "123456" }),
    )
    .await;
    nothing.expect_problem(400);
}
