//! Passkeys end to end (API.md, "Passkeys"), with the authenticator built in `service_tests`
//! answering the options the API hands out as a browser would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use domain::UserId;
use reqwest::Method;
use serde_json::{Value, json};
use service_tests::authenticator::{Authenticator, ORIGIN};
use service_tests::events::{assert_valid_against_their_schemas, detail_types, published_about};
use service_tests::function::StartedFunction;
use service_tests::{
    Api, Reply, Session, mailbox_for, new_admin_session, new_user_session, token_claims,
};
use std::time::Duration;

async fn post(api: &Api, path: &str, body: Value) -> Reply {
    api.send_json(Method::POST, path, &body).await
}

/// Registers `authenticator`'s passkey for `user`, named `name`: the 201's body.
async fn register(user: &Session, authenticator: &Authenticator, name: &str) -> Reply {
    let api = user.api();
    let started = post(
        &api,
        &format!("/users/{}/passkeys/registration", user.id),
        json!({}),
    )
    .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.header("cache-control"), Some("no-store"));
    let options = started.body["options"]["publicKey"].to_string();
    let credential: Value = serde_json::from_str(&authenticator.create(&options)).unwrap();
    let body = json!({
        "registration_id": started.body["registration_id"],
        "name": name,
        "credential": credential,
    });
    post(&api, &format!("/users/{}/passkeys", user.id), body).await
}

/// A sign-in challenge: its id and the request options to answer.
async fn challenge() -> (Value, String) {
    let options = post(&Api::anonymous(), "/login/passkey/options", json!({})).await;
    assert_eq!(options.status, 200, "{}", options.body);
    assert_eq!(
        options.body["options"]["publicKey"]["allowCredentials"],
        json!([])
    );
    let request = options.body["options"]["publicKey"].to_string();
    (options.body["challenge_id"].clone(), request)
}

/// The assertion `authenticator` gives `challenge` as `user`'s, with `counter`, posted.
async fn answer(
    (challenge_id, request): &(Value, String),
    authenticator: &Authenticator,
    user: &str,
    counter: u32,
) -> Reply {
    let user = UserId::parse(user).unwrap();
    let assertion: Value =
        serde_json::from_str(&authenticator.get(request, user, counter)).unwrap();
    let body = json!({"challenge_id": challenge_id, "credential": assertion});
    post(&Api::anonymous(), "/login/passkey", body).await
}

/// A sign-in's options, and the assertion `authenticator` gives them as `user`'s.
async fn sign_in(authenticator: &Authenticator, user: &str, counter: u32) -> Reply {
    answer(&challenge().await, authenticator, user, counter).await
}

#[tokio::test]
async fn a_passkey_registers_lists_signs_in_with_hwk_and_mfa_and_is_removed() {
    let ada = new_user_session("passkey").await;
    let authenticator = Authenticator::new();
    let added = register(&ada, &authenticator, "Laptop").await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["name"], "Laptop");
    assert_eq!(added.body["last_used_at"], Value::Null);
    let mail = mailbox_for(&ada.email).await;
    assert!(
        mail.iter()
            .any(|m| m["subject"] == "A passkey was added to your account")
    );

    let listed = ada.api().get(&format!("/users/{}/passkeys", ada.id)).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    let signed_in = sign_in(&authenticator, &ada.id, 1).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    assert_eq!(signed_in.body["user"]["id"], ada.id.as_str());
    let claims = token_claims(signed_in.body["access_token"].as_str().unwrap());
    assert_eq!(claims["amr"], json!(["hwk", "mfa"]));
    let used = ada.api().get(&format!("/users/{}/passkeys", ada.id)).await;
    assert!(used.body["items"][0]["last_used_at"].is_string());

    let cloned = sign_in(&authenticator, &ada.id, 1).await;
    cloned.expect_problem(401);

    let again = register(&ada, &authenticator, "Twice").await;
    assert_eq!(again.status, 409, "{}", again.body);

    let passkey = used.body["items"][0]["id"].as_str().unwrap().to_owned();
    let removed = ada
        .api()
        .delete(&format!("/users/{}/passkeys/{passkey}", ada.id))
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    sign_in(&authenticator, &ada.id, 2)
        .await
        .expect_problem(401);
    let mail = mailbox_for(&ada.email).await;
    assert!(
        mail.iter()
            .any(|m| m["subject"] == "A passkey was removed from your account")
    );

    // Registered, password set by reset, passkey added, removed: each published once, the
    // passkey's events at versions of their own, after the sign-ins'.
    let events = published_about(&ada.id, 4, Duration::from_secs(30)).await;
    assert_eq!(
        detail_types(&events),
        [
            "UserRegistered",
            "UserPasswordChanged",
            "UserPasskeyAdded",
            "UserPasskeyRemoved"
        ]
    );
    assert_eq!(events[2]["detail"]["passkey_id"], passkey.as_str());
    assert_eq!(events[3]["detail"]["passkey_id"], passkey.as_str());
    assert!(events[3]["detail"]["version"].as_u64() > events[2]["detail"]["version"].as_u64());
    assert_valid_against_their_schemas(&events);
}

#[tokio::test]
async fn a_wrong_origin_or_no_user_verification_is_a_400_and_registrations_are_the_users_own() {
    let grace = new_user_session("passkey-refused").await;
    let mut elsewhere = Authenticator::new();
    elsewhere.origin = "https://evil.example".to_owned();
    register(&grace, &elsewhere, "Evil")
        .await
        .expect_problem(400);
    let mut unverified = Authenticator::new();
    unverified.flags = service_tests::authenticator::UP;
    register(&grace, &unverified, "Unverified")
        .await
        .expect_problem(400);
    let listed = grace
        .api()
        .get(&format!("/users/{}/passkeys", grace.id))
        .await;
    assert_eq!(listed.body["items"], json!([]));

    let admin = Api::default();
    let for_grace = post(
        &admin,
        &format!("/users/{}/passkeys/registration", grace.id),
        json!({}),
    )
    .await;
    for_grace.expect_problem(404);
    let mallory = new_user_session("passkey-other").await;
    mallory
        .api()
        .get(&format!("/users/{}/passkeys", grace.id))
        .await
        .expect_problem(404);
    let unknown = post(
        &Api::anonymous(),
        "/login/passkey",
        json!({"challenge_id": UserId::generate().to_string(), "credential": {}}),
    )
    .await;
    unknown.expect_problem(401);
}

#[tokio::test]
async fn every_failed_sign_in_is_one_401_a_ceremony_answers_once_and_a_suspended_user_gets_403() {
    let lin = new_user_session("passkey-failures").await;
    let authenticator = Authenticator::new();
    let added = register(&lin, &authenticator, "Phone").await;
    assert_eq!(added.status, 201, "{}", added.body);
    let same_key = |origin: &str, flags: u8| Authenticator {
        key: authenticator.key.clone(),
        credential_id: authenticator.credential_id.clone(),
        origin: origin.to_owned(),
        flags,
    };
    let (up, uv) = (
        service_tests::authenticator::UP,
        service_tests::authenticator::UV,
    );

    let used = challenge().await;
    assert_eq!(answer(&used, &authenticator, &lin.id, 1).await.status, 200);
    let other = new_user_session("passkey-other-handle").await;
    let refusals = [
        answer(&used, &authenticator, &lin.id, 2).await,
        sign_in(&same_key("https://evil.example", up | uv), &lin.id, 3).await,
        sign_in(&same_key(ORIGIN, up), &lin.id, 4).await,
        sign_in(&Authenticator::new(), &lin.id, 5).await,
        sign_in(&authenticator, &other.id, 6).await,
    ];
    let details: Vec<&Value> = refusals
        .iter()
        .map(|refused| &refused.expect_problem(401)["detail"])
        .collect();
    assert!(
        details.iter().all(|detail| *detail == details[0]),
        "{details:?}"
    );
    assert_eq!(sign_in(&authenticator, &lin.id, 7).await.status, 200);

    // A registration is answered once, right or wrong.
    let api = lin.api();
    let started = post(
        &api,
        &format!("/users/{}/passkeys/registration", lin.id),
        json!({}),
    )
    .await;
    let options = started.body["options"]["publicKey"].to_string();
    let body = |authenticator: &Authenticator| {
        json!({
            "registration_id": started.body["registration_id"],
            "name": "Tablet",
            "credential": serde_json::from_str::<Value>(&authenticator.create(&options)).unwrap(),
        })
    };
    let path = format!("/users/{}/passkeys", lin.id);
    assert_eq!(
        post(&api, &path, body(&Authenticator::new())).await.status,
        201
    );
    post(&api, &path, body(&Authenticator::new()))
        .await
        .expect_problem(400);

    let suspended = Api::default()
        .post(&format!("/users/{}/suspend", lin.id))
        .await;
    assert_eq!(suspended.status, 200, "{}", suspended.body);
    sign_in(&authenticator, &lin.id, 8)
        .await
        .expect_problem(403);
}

/// `make test`'s stack runs with the admin MFA setting `optional`; `list-users` started beside
/// it with `required` takes an admin's passkey sign-in as multi-factor, and a password alone
/// not.
#[tokio::test]
async fn a_passkey_sign_in_satisfies_the_required_admin_mfa_setting() {
    let admin = new_admin_session(&Api::default(), "passkey-admin").await;
    let authenticator = Authenticator::new();
    let added = register(&admin, &authenticator, "Security key").await;
    assert_eq!(added.status, 201, "{}", added.body);
    let signed_in = sign_in(&authenticator, &admin.id, 1).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    assert_eq!(signed_in.body["user"]["role"], "admin");

    let mut required = StartedFunction::start("list-users", &[("ADMIN_MFA", "required")]).await;
    let (status, problem) = required.get("/users", &admin.access).await;
    assert_eq!(status, 403, "a password alone: {problem}");
    assert_eq!(problem["type"], "/problems/mfa-required");
    let passkey_token = signed_in.body["access_token"].as_str().unwrap();
    let (status, page) = required.get("/users", passkey_token).await;
    assert_eq!(status, 200, "{page}");
    assert!(page["items"].is_array());
}
