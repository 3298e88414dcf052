//! Second factors end to end (API.md, "Second factors"): a user turns TOTP on in two steps,
//! with codes computed here from the secret the API handed out, as an authenticator app would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::events::{assert_valid_against_their_schemas, detail_types, published_about};
use service_tests::{
    Api, Session, local_dynamodb, login, mailbox_for, new_admin_session, new_user_session,
    table_name, token_claims,
};
use std::time::Duration;
use totp_rs::{Algorithm, Secret, TOTP};

/// The authenticator app's code for `secret` (base32) `offset` seconds from now.
fn code_in(secret: &str, offset: i64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes, None, "test".to_owned())
        .unwrap()
        .generate(now.checked_add_signed(offset).unwrap())
}

/// The authenticator app's code for `secret` (base32) at this moment.
fn code_now(secret: &str) -> String {
    code_in(secret, 0)
}

/// A code of `secret` from an hour ago: well formed, and wrong now.
fn stale_code(secret: &str) -> String {
    code_in(secret, -3600)
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

/// Turns `user`'s factor on through the API: its secret and recovery codes. The confirming
/// code uses up this 30-second step, so later codes of the test are recovery codes or of
/// another step.
async fn turn_on(user: &Session) -> (String, Vec<String>) {
    let api = user.api();
    let started = post(&api, &format!("/users/{}/mfa/totp", user.id), json!({})).await;
    let secret = started.body["secret"].as_str().unwrap().to_owned();
    let confirm = format!("/users/{}/mfa/totp/confirm", user.id);
    let confirmed = post(&api, &confirm, json!({ "code": code_now(&secret) })).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let codes = confirmed.body["recovery_codes"].as_array().unwrap();
    let codes = codes.iter().map(|code| code.as_str().unwrap().to_owned());
    (secret, codes.collect())
}

/// The first step: the right password of a user with a factor on, answered with a token.
async fn mfa_token(user: &Session) -> String {
    let first = login(&user.email, "correct horse battery").await;
    let problem = first.expect_problem(403);
    assert_eq!(problem["type"], "/problems/mfa-required");
    assert_eq!(problem["expires_in"], 300);
    assert_eq!(problem["methods"], json!(["totp", "recovery_code"]));
    assert_eq!(first.header("cache-control"), Some("no-store"));
    assert!(first.body.get("access_token").is_none());
    problem["mfa_token"].as_str().unwrap().to_owned()
}

async fn finish(body: Value) -> service_tests::Reply {
    post(&Api::anonymous(), "/login/mfa", body).await
}

#[tokio::test]
async fn a_two_step_login_takes_a_code_once_and_a_recovery_code_once() {
    let ada = new_user_session("two-step").await;
    let (secret, codes) = turn_on(&ada).await;

    let token = mfa_token(&ada).await;
    let wrong = finish(json!({ "mfa_token": token, "code": stale_code(&secret) })).await;
    wrong.expect_problem(401);
    // The confirmation used this step's code up: the next step's is the one that works now.
    let next_step = code_in(&secret, 30);
    let done = finish(json!({ "mfa_token": token, "code": next_step })).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["user"]["id"], ada.id.as_str());
    let claims = token_claims(done.body["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    let used = finish(json!({ "mfa_token": token, "code": code_now(&secret) })).await;
    used.expect_problem(401);

    let token = mfa_token(&ada).await;
    let replayed = finish(json!({ "mfa_token": token, "code": next_step })).await;
    replayed.expect_problem(401);
    let recovered = finish(json!({ "mfa_token": token, "recovery_code": codes[0] })).await;
    assert_eq!(recovered.status, 200, "{}", recovered.body);
    let claims = token_claims(recovered.body["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    let token = mfa_token(&ada).await;
    let again = finish(json!({ "mfa_token": token, "recovery_code": codes[0] })).await;
    again.expect_problem(401);
    let both =
        finish(json!({ "mfa_token": token, "code": "123456", "recovery_code": codes[1] })).await;
    both.expect_problem(422);
    let forged = finish(json!({ "mfa_token": "forged", "recovery_code": codes[1] })).await;
    forged.expect_problem(401);
}

#[tokio::test]
async fn wrong_codes_lock_the_address_like_wrong_passwords() {
    let ada = new_user_session("two-step-lock").await;
    let (secret, codes) = turn_on(&ada).await;
    let token = mfa_token(&ada).await;
    // The password step counted one attempt: four wrong codes make five.
    for _ in 0..4 {
        finish(json!({ "mfa_token": token, "code": stale_code(&secret) }))
            .await
            .expect_problem(401);
    }
    let locked = finish(json!({ "mfa_token": token, "recovery_code": codes[0] })).await;
    locked.expect_problem(429);
    assert!(locked.header("retry-after").is_some());
}

#[tokio::test]
async fn new_recovery_codes_void_the_old_and_the_user_turns_the_factor_off_with_a_code() {
    let ada = new_user_session("mfa-manage").await;
    let (_, codes) = turn_on(&ada).await;
    let api = ada.api();
    let regenerate = format!("/users/{}/mfa/recovery-codes", ada.id);
    let wrong = post(&api, &regenerate, json!({ "code": "AAAA-BBBB-CCCC-DDDD" })).await;
    assert_eq!(wrong.expect_problem(403)["type"], "/problems/wrong-code");
    let fresh = post(&api, &regenerate, json!({ "code": codes[0] })).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    assert_eq!(fresh.header("cache-control"), Some("no-store"));
    let new_codes = fresh.body["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(new_codes.len(), 10);

    let remove = format!("/users/{}/mfa", ada.id);
    let no_code = api.send_json(Method::DELETE, &remove, &json!({})).await;
    no_code.expect_problem(400);
    let old = api
        .send_json(Method::DELETE, &remove, &json!({ "code": codes[1] }))
        .await;
    assert_eq!(old.expect_problem(403)["type"], "/problems/wrong-code");
    let removed = api
        .send_json(Method::DELETE, &remove, &json!({ "code": new_codes[0] }))
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    // Every session ended, this one too.
    api.get(&format!("/users/{}", ada.id))
        .await
        .expect_problem(401);
    let signed_in = login(&ada.email, "correct horse battery").await;
    assert_eq!(signed_in.status, 200, "a password alone signs in again");
    assert_eq!(signed_in.body["user"]["mfa_enabled"], false);
    let mail = mailbox_for(&ada.email).await;
    assert!(
        mail.iter()
            .any(|m| m["subject"] == "Two-step sign-in is off")
    );
    let nothing = Api::with_token(signed_in.body["access_token"].as_str().unwrap())
        .send_json(Method::DELETE, &remove, &json!({ "code": new_codes[1] }))
        .await;
    nothing.expect_problem(404);
}

#[tokio::test]
async fn an_admin_resets_a_users_factor_with_no_body_and_a_user_cannot_touch_anothers() {
    let grace = new_user_session("mfa-reset").await;
    turn_on(&grace).await;
    let mallory = new_user_session("mfa-reset-other").await;
    let remove = format!("/users/{}/mfa", grace.id);
    mallory.api().delete(&remove).await.expect_problem(404);
    let reset = Api::default().delete(&remove).await;
    assert_eq!(reset.status, 204, "{}", reset.body);
    let events = published_about(&grace.id, 4, Duration::from_secs(30)).await;
    assert_eq!(
        detail_types(&events),
        [
            "UserRegistered",
            "UserPasswordChanged",
            "UserSecondFactorEnabled",
            "UserSecondFactorDisabled"
        ]
    );
    assert_valid_against_their_schemas(&events);
    grace
        .api()
        .get(&format!("/users/{}", grace.id))
        .await
        .expect_problem(401);
    let signed_in = login(&grace.email, "correct horse battery").await;
    assert_eq!(signed_in.status, 200);
}

/// `make test`'s stack runs with the admin MFA setting `optional`; this starts one function,
/// `list-users`, as Lambda would with the setting `required`, beside the stack, and sends it
/// what API Gateway would.
mod admin_mfa_required {
    use super::*;
    use service_tests::function::StartedFunction;

    #[tokio::test]
    async fn admin_routes_need_mfa_in_amr_when_required_and_not_when_optional() {
        let admin = new_admin_session(&Api::default(), "mfa-admin").await;
        let (secret, _) = turn_on(&admin).await;
        let password_only = admin.access.clone();

        let mut optional = StartedFunction::start("list-users", &[("ADMIN_MFA", "optional")]).await;
        assert_eq!(optional.get("/users", &password_only).await.0, 200);

        let mut required = StartedFunction::start("list-users", &[("ADMIN_MFA", "required")]).await;
        let (status, problem) = required.get("/users", &password_only).await;
        assert_eq!(status, 403, "{problem}");
        assert_eq!(problem["type"], "/problems/mfa-required");

        // The admin signs in with its factor: the next step's code (confirming used this one).
        let token = mfa_token(&admin).await;
        let code = code_in(&secret, 30);
        let done = finish(json!({ "mfa_token": token, "code": code })).await;
        assert_eq!(done.status, 200, "{}", done.body);
        let strong = done.body["access_token"].as_str().unwrap();
        let (status, page) = required.get("/users", strong).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["items"].is_array());
    }
}
