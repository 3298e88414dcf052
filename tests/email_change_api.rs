//! Changing an address end to end (API.md, the email-change rows of "Users"): the user's own
//! change waits for a token sent to the new address, an administrator's applies at once, and
//! either way the old address is told. Tokens are read from the local SES mailbox.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{Api, Reply, login, mailbox_for, new_user_session, reset_token, unique_email};

const CONFIRM_SUBJECT: &str = "Confirm your new email address";
const NOTICE_SUBJECT: &str = "Your email address was changed";

/// The messages with `subject` the local SES holds for `address`.
async fn mails(address: &str, subject: &str) -> Vec<Value> {
    mailbox_for(address)
        .await
        .into_iter()
        .filter(|mail| mail["subject"] == subject)
        .collect()
}

/// The token of the one email-change message sent to `address`.
async fn change_token(address: &str) -> String {
    let sent = mails(address, CONFIRM_SUBJECT).await;
    assert_eq!(sent.len(), 1, "one email-change message to {address}");
    sent[0]["body"]["text"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("token="))
        .expect("a token= line")
        .to_owned()
}

async fn change_email(api: &Api, id: &str, email: &str) -> Reply {
    api.send_json(
        Method::PUT,
        &format!("/users/{id}/email"),
        &json!({ "email": email }),
    )
    .await
}

async fn confirm(token: &str) -> Reply {
    Api::anonymous()
        .send_json(
            Method::POST,
            "/email-change/confirm",
            &json!({ "token": token }),
        )
        .await
}

#[tokio::test]
async fn a_users_own_change_is_proved_by_the_token_sent_to_the_new_address() {
    let ada = new_user_session("mover").await;
    let new_email = unique_email("moved");

    let reply = change_email(&ada.api(), &ada.id, &new_email).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let token = change_token(&new_email).await;
    assert!(
        mails(&ada.email, NOTICE_SUBJECT).await.is_empty(),
        "nothing changed yet"
    );
    let unchanged = ada.api().get(&format!("/users/{}", ada.id)).await;
    assert_eq!(unchanged.expect_user(200)["email"], ada.email.as_str());

    let confirmed = confirm(&token).await;
    let user = confirmed.expect_user(200);
    assert_eq!(user["email"], new_email.as_str());
    assert_eq!(user["email_verified"], true);
    let notice = mails(&ada.email, NOTICE_SUBJECT).await;
    assert_eq!(notice.len(), 1, "the old address is told");
    let text = notice[0]["body"]["text"].as_str().unwrap();
    assert!(!text.contains(&token) && !text.contains("token="));

    let reused = confirm(&token).await;
    let unknown = confirm("never-issued-token").await;
    assert_eq!(
        reused.expect_problem(400)["detail"],
        unknown.expect_problem(400)["detail"],
        "a used and an unknown token are told the same"
    );
    assert_eq!(
        login(&new_email, "correct horse battery").await.status,
        200,
        "the new address logs in"
    );
    assert_eq!(login(&ada.email, "correct horse battery").await.status, 401);
    let reuse = Api::anonymous().create_user(&ada.email, "Next Owner").await;
    assert_eq!(
        reuse["email"],
        ada.email.as_str(),
        "the old address is free"
    );
}

#[tokio::test]
async fn an_administrators_change_applies_at_once_and_tells_the_old_address() {
    let ada = new_user_session("admin-moved").await;
    let new_email = unique_email("admin-moved-to");
    let reply = change_email(&Api::default(), &ada.id, &new_email).await;
    let user = reply.expect_user(200);
    assert_eq!(user["email"], new_email.as_str());
    assert_eq!(
        user["email_verified"], false,
        "nobody proved the new address"
    );
    assert_eq!(mails(&ada.email, NOTICE_SUBJECT).await.len(), 1);
    assert!(mails(&new_email, CONFIRM_SUBJECT).await.is_empty());
}

#[tokio::test]
async fn an_address_taken_before_or_meanwhile_is_a_409() {
    let ada = new_user_session("taker").await;
    let grace = new_user_session("holder").await;
    change_email(&ada.api(), &ada.id, &grace.email)
        .await
        .expect_problem(409);

    let wanted = unique_email("wanted");
    assert_eq!(change_email(&ada.api(), &ada.id, &wanted).await.status, 202);
    let token = change_token(&wanted).await;
    Api::anonymous().create_user(&wanted, "Quicker").await;
    confirm(&token).await.expect_problem(409);
    let unchanged = ada.api().get(&format!("/users/{}", ada.id)).await;
    assert_eq!(unchanged.expect_user(200)["email"], ada.email.as_str());
}

#[tokio::test]
async fn another_users_address_is_not_found_and_a_stale_if_match_412() {
    let ada = new_user_session("own").await;
    let grace = new_user_session("other").await;
    change_email(&grace.api(), &ada.id, &unique_email("x"))
        .await
        .expect_problem(404);
    let stale = grace
        .api()
        .send(
            grace
                .api()
                .request(Method::PUT, &format!("/users/{}/email", grace.id))
                .header("if-match", "\"99\"")
                .json(&json!({ "email": unique_email("y") })),
        )
        .await;
    stale.expect_problem(412);
}

#[tokio::test]
async fn an_email_change_voids_the_reset_token_sent_to_the_old_address() {
    let anyone = Api::anonymous();
    let email = unique_email("reset-void-2");
    let id = anyone.create_user(&email, "Void").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = anyone
        .send_json(Method::POST, "/password-reset", &json!({ "email": email }))
        .await;
    assert_eq!(reply.status, 202);
    let token = reset_token(&email).await;
    change_email(&Api::default(), &id, &unique_email("reset-void-new"))
        .await
        .expect_user(200);
    let body = json!({ "token": token, "new_password": "correct horse battery" });
    anyone
        .send_json(Method::POST, "/password-reset/confirm", &body)
        .await
        .expect_problem(400);
}

#[tokio::test]
async fn ones_own_change_needs_fresh_proof_and_the_current_address_hears_of_it_at_once() {
    let ada = new_user_session("stepping-up").await;
    let now = domain::Timestamp::now();
    let ten_minutes_ago = now.plus_seconds(-600).unwrap();
    let stale = service_tests::minted(
        &ada,
        domain::Role::User,
        now,
        ten_minutes_ago,
        service_tests::token_audience(),
    );
    let stale = Api::with_token(&stale);
    let new_email = unique_email("stepped-up");
    let path = format!("/users/{}/email", ada.id);
    let send = |api: &Api, body: Value| {
        let api = api.clone();
        let path = path.clone();
        async move { api.send_json(Method::PUT, &path, &body).await }
    };

    let without = send(&stale, json!({ "email": new_email })).await;
    assert_eq!(
        without.expect_problem(403)["type"],
        "/problems/reauthentication-required"
    );
    let wrong = send(
        &stale,
        json!({ "email": new_email, "current_password": "not the password at all" }),
    )
    .await;
    assert_eq!(
        wrong.expect_problem(403)["type"],
        "/problems/wrong-password"
    );
    assert!(
        mailbox_for(&new_email).await.is_empty(),
        "nothing was asked"
    );

    let right = send(
        &stale,
        json!({ "email": new_email, "current_password": "correct horse battery" }),
    )
    .await;
    assert_eq!(right.status, 202, "{}", right.body);
    change_token(&new_email).await;
    // The welcome, the reset, and the notice.
    let told = service_tests::wait_for_mail(&ada.email, 3).await;
    let notice = told
        .iter()
        .find(|mail| mail["subject"] == "A change of your email address was asked for")
        .expect("the current address is told at once");
    let text = notice["body"]["text"].as_str().unwrap();
    let masked = format!("{}***@", &new_email[..1]);
    assert!(text.contains(&masked), "{text}");
    assert!(!text.contains(&new_email) && !text.contains("token="));

    // A fresh sign-in is proof enough.
    let fresh = send(&ada.api(), json!({ "email": unique_email("fresh") })).await;
    assert_eq!(fresh.status, 202, "{}", fresh.body);
}

#[tokio::test]
async fn wrong_step_up_passwords_lock_the_address_like_wrong_logins() {
    let ada = new_user_session("step-up-lock").await;
    let path = format!("/users/{}/email", ada.id);
    let body = json!({ "email": unique_email("never"), "current_password": "guess guess guess" });
    for _ in 0..5 {
        ada.api()
            .send_json(Method::PUT, &path, &body)
            .await
            .expect_problem(403);
    }
    let locked = ada.api().send_json(Method::PUT, &path, &body).await;
    locked.expect_problem(429);
    assert!(locked.header("retry-after").is_some());
    login(&ada.email, "correct horse battery")
        .await
        .expect_problem(429);
}
