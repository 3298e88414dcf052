//! Password reset by email, setting a password, and login, end to end: the token is read
//! from the local SES mailbox as a user would read it from their inbox.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{
    Api, Reply, mailbox_for, new_user_session, pass_the_reset_minute, refresh, reset_token,
    reset_tokens, unique_email,
};

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

async fn request_reset(api: &Api, email: &str) -> Reply {
    api.send_json(Method::POST, "/password-reset", &json!({"email": email}))
        .await
}

async fn confirm(api: &Api, token: &str, password: &str) -> Reply {
    api.send_json(
        Method::POST,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": password}),
    )
    .await
}

async fn login(api: &Api, email: &str, password: &str) -> Reply {
    api.send_json(
        Method::POST,
        "/login",
        &json!({"email": email, "password": password}),
    )
    .await
}

/// A registered user who set `password` through the reset flow.
async fn user_with_password(api: &Api, password: &str) -> (String, String) {
    let email = unique_email("cred");
    let id = id_of(&api.create_user(&email, "Credentialed").await);
    assert_eq!(request_reset(api, &email).await.status, 202);
    let token = reset_tokens(&email).await.pop().expect("a reset email");
    assert_eq!(confirm(api, &token, password).await.status, 204);
    (id, email)
}

#[tokio::test]
async fn a_new_user_sets_a_password_by_email_and_logs_in_with_it() {
    let api = Api::default();
    let email = unique_email("flow");
    let id = id_of(&api.create_user(&email, "Flow").await);
    let welcome = &mailbox_for(&email).await[0];
    assert!(
        welcome["body"]["text"]
            .as_str()
            .unwrap()
            .contains("/password-reset"),
        "the welcome email says how"
    );

    let reply = request_reset(&api, &email.to_uppercase()).await;
    assert_eq!((reply.status.as_u16(), &reply.body), (202, &Value::Null));
    let tokens = reset_tokens(&email).await;
    assert_eq!(tokens.len(), 1);
    assert!(tokens[0].len() >= 43, "256 bits, base64url");

    let reply = confirm(&api, &tokens[0], "correct horse battery").await;
    assert_eq!((reply.status.as_u16(), &reply.body), (204, &Value::Null));
    let notice = mailbox_for(&email)
        .await
        .into_iter()
        .find(|mail| mail["subject"] == "Your password was changed")
        .expect("the owner is told the password changed");
    let text = notice["body"]["text"].as_str().unwrap();
    assert!(
        !text.contains(&tokens[0]) && !text.contains("horse"),
        "{text}"
    );

    let reply = login(&api, &email, "correct horse battery").await;
    let user = &reply.expect_user(200)["user"];
    assert_eq!(id_of(user), id);
    assert!(user["last_login"].is_string());
    assert_eq!(
        user["email_verified"], true,
        "the emailed token proved the address"
    );
    let text = reply.body.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("horse"),
        "no secret in the answer: {text}"
    );
    assert_eq!(
        api.get(&format!("/users/{id}")).await.body["last_login"],
        user["last_login"]
    );
}

#[tokio::test]
async fn a_token_works_once_and_bad_tokens_all_get_the_same_400() {
    let api = Api::default();
    let email = unique_email("once");
    api.create_user(&email, "Once").await;
    request_reset(&api, &email).await;
    let token = reset_tokens(&email).await.pop().unwrap();

    assert_eq!(
        confirm(&api, &token, "first good password").await.status,
        204
    );
    let reused = confirm(&api, &token, "second good password").await;
    let unknown = confirm(
        &api,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "second good password",
    )
    .await;
    let garbage = confirm(&api, "not even base64 !", "second good password").await;
    let details: Vec<&Value> = [&reused, &unknown, &garbage]
        .iter()
        .map(|reply| &reply.expect_problem(400)["detail"])
        .collect();
    assert!(
        details.windows(2).all(|pair| pair[0] == pair[1]),
        "{details:?}"
    );

    assert_eq!(login(&api, &email, "first good password").await.status, 200);
    login(&api, &email, "second good password")
        .await
        .expect_problem(401);
}

#[tokio::test]
async fn a_second_reset_replaces_the_password_and_the_earlier_token() {
    let api = Api::default();
    let (id, email) = user_with_password(&api, "the first password").await;
    // One reset email a minute per address: a second one at once sends nothing.
    let again = request_reset(&api, &email).await;
    assert_eq!(again.status, 202);
    assert_eq!(
        reset_tokens(&email).await.len(),
        1,
        "nothing sent within the minute"
    );
    pass_the_reset_minute(&id).await;
    request_reset(&api, &email).await;
    let token = reset_tokens(&email).await.pop().unwrap();
    assert_eq!(
        confirm(&api, &token, "the second password").await.status,
        204
    );
    login(&api, &email, "the first password")
        .await
        .expect_problem(401);
    assert_eq!(login(&api, &email, "the second password").await.status, 200);
}

#[tokio::test]
async fn reset_requests_answer_202_for_anyone_but_email_only_active_users() {
    let api = Api::default();
    let nobody = unique_email("nobody");
    let suspended = unique_email("suspended");
    let suspended_id = id_of(&api.create_user(&suspended, "Suspended").await);
    api.post(&format!("/users/{suspended_id}/suspend"))
        .await
        .expect_user(200);
    let deleted = unique_email("deleted");
    let deleted_id = id_of(&api.create_user(&deleted, "Deleted").await);
    api.delete(&format!("/users/{deleted_id}")).await;

    for address in [&nobody, &suspended, &deleted] {
        let reply = request_reset(&api, address).await;
        assert_eq!(
            (reply.status.as_u16(), &reply.body),
            (202, &Value::Null),
            "{address}"
        );
        assert!(
            reset_tokens(address).await.is_empty(),
            "no reset email to {address}"
        );
    }
}

#[tokio::test]
async fn unknown_addresses_wrong_passwords_and_unset_passwords_get_one_401() {
    let api = Api::default();
    let (_, email) = user_with_password(&api, "correct horse battery").await;
    let no_password = unique_email("nopass");
    api.create_user(&no_password, "No Password").await;

    let replies = [
        login(&api, &unique_email("stranger"), "correct horse battery").await,
        login(&api, &email, "wrong horse battery").await,
        login(&api, &no_password, "correct horse battery").await,
        login(&api, &email, "").await,
    ];
    let details: Vec<&Value> = replies
        .iter()
        .map(|reply| &reply.expect_problem(401)["detail"])
        .collect();
    assert!(
        details.windows(2).all(|pair| pair[0] == pair[1]),
        "{details:?}"
    );
}

#[tokio::test]
async fn a_right_password_for_a_user_who_cannot_log_in_is_a_403() {
    let api = Api::default();
    let (id, email) = user_with_password(&api, "correct horse battery").await;
    api.post(&format!("/users/{id}/suspend"))
        .await
        .expect_user(200);
    login(&api, &email, "correct horse battery")
        .await
        .expect_problem(403);
    login(&api, &email, "wrong horse battery")
        .await
        .expect_problem(401);
    assert_eq!(api.post(&format!("/users/{id}/activate")).await.status, 200);
    assert_eq!(
        login(&api, &email, "correct horse battery").await.status,
        200
    );
}

#[tokio::test]
async fn invalid_credential_bodies_fail_with_every_field_named() {
    let api = Api::default();
    let fields = |reply: &Reply| -> Vec<String> {
        reply.expect_problem(422)["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        fields(&request_reset(&api, "not an address").await),
        ["email"]
    );
    assert_eq!(
        fields(&confirm(&api, "token", "eleven char").await),
        ["new_password"]
    );
    assert_eq!(
        fields(&confirm(&api, "token", &"x".repeat(129)).await),
        ["new_password"]
    );
    let empty = api
        .send_json(
            Method::POST,
            "/password-reset/confirm",
            &json!({"extra": 1}),
        )
        .await;
    assert_eq!(fields(&empty), ["token", "new_password", "extra"]);
    let login_body = api
        .send_json(
            Method::POST,
            "/login",
            &json!({"email": "x", "password": 5}),
        )
        .await;
    assert_eq!(fields(&login_body), ["email", "password"]);

    for path in ["/password-reset", "/password-reset/confirm", "/login"] {
        api.send(api.request(Method::POST, path).body("{}"))
            .await
            .expect_problem(400);
        api.send_json(Method::POST, path, &json!([]))
            .await
            .expect_problem(400);
        api.send_json(Method::POST, path, &json!({"email": "x".repeat(70_000)}))
            .await
            .expect_problem(413);
    }
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_address_and_the_lock_lifts() {
    let api = Api::default();
    let (_, email) = user_with_password(&api, "correct horse battery").await;
    for _ in 0..5 {
        login(&api, &email, "wrong horse battery")
            .await
            .expect_problem(401);
    }
    let locked = login(&api, &email, "correct horse battery").await;
    locked.expect_problem(429);
    assert_eq!(locked.header("retry-after"), Some("1"));
    let unknown = unique_email("never-registered");
    for _ in 0..5 {
        login(&api, &unknown, "wrong horse battery").await;
    }
    let unknown_locked = login(&api, &unknown, "wrong horse battery").await;
    assert_eq!(
        unknown_locked.expect_problem(429)["detail"],
        locked.body["detail"],
        "known and unknown addresses lock alike"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(
        login(&api, &email, "correct horse battery").await.status,
        200
    );
}

/// Counts the statuses of `replies`.
fn statuses(replies: &[Reply]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for reply in replies {
        *counts.entry(reply.status.as_u16()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn twenty_simultaneous_wrong_passwords_get_at_most_five_401s_and_a_reset_lifts_the_lock() {
    let api = Api::default();
    let email = unique_email("burst");
    api.create_user(&email, "Burst").await;
    let guesses = (0..20).map(|_| login(&api, &email, "wrong horse battery"));
    let replies = futures::future::join_all(guesses).await;
    let counts = statuses(&replies);
    let checked = counts.get(&401).copied().unwrap_or(0);
    assert!((1..=5).contains(&checked), "{counts:?}");
    assert_eq!(
        checked + counts.get(&429).copied().unwrap_or(0),
        20,
        "{counts:?}"
    );

    // Each failure after a lock doubles it: 2, 4, then 8 seconds.
    let mut lock = 1;
    while lock < 8 {
        tokio::time::sleep(std::time::Duration::from_millis(lock * 1_000 + 100)).await;
        login(&api, &email, "wrong horse battery")
            .await
            .expect_problem(401);
        lock *= 2;
    }
    let locked_at = std::time::Instant::now();
    let locked = login(&api, &email, "correct horse battery").await;
    locked.expect_problem(429);
    assert_eq!(locked.header("retry-after"), Some("8"));

    assert_eq!(request_reset(&api, &email).await.status, 202);
    let token = reset_tokens(&email).await.pop().expect("a reset email");
    assert_eq!(
        confirm(&api, &token, "correct horse battery").await.status,
        204
    );
    let reply = login(&api, &email, "correct horse battery").await;
    assert!(
        locked_at.elapsed() < std::time::Duration::from_secs(8),
        "the reset took longer than the lock, so this proves nothing"
    );
    assert_eq!(reply.status, 200, "the new password lifted the lock");
}

#[tokio::test]
async fn a_password_change_keeps_only_the_callers_new_session_and_tells_the_address() {
    let here = new_user_session("changer").await;
    let elsewhere = login(&Api::anonymous(), &here.email, "correct horse battery").await;
    let elsewhere_access = elsewhere.body["access_token"].as_str().unwrap().to_owned();
    let elsewhere_refresh = elsewhere.body["refresh_token"].as_str().unwrap().to_owned();
    let path = format!("/users/{}/password", here.id);
    let change = |current: &str| json!({"current_password": current, "new_password": "a brand new password"});

    let wrong = here
        .api()
        .send_json(Method::PUT, &path, &change("not the password at all"))
        .await;
    assert_eq!(
        wrong.expect_problem(403)["type"],
        "/problems/wrong-password"
    );
    let admin = Api::default()
        .send_json(Method::PUT, &path, &change("correct horse battery"))
        .await;
    admin.expect_problem(404);

    let changed = here
        .api()
        .send_json(Method::PUT, &path, &change("correct horse battery"))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let access = changed.body["access_token"].as_str().unwrap();
    let own = format!("/users/{}", here.id);
    assert_eq!(Api::with_token(access).get(&own).await.status, 200);
    for (old_access, old_refresh) in [
        (here.access.as_str(), here.refresh.as_str()),
        (elsewhere_access.as_str(), elsewhere_refresh.as_str()),
    ] {
        Api::with_token(old_access)
            .get(&own)
            .await
            .expect_problem(401);
        refresh(old_refresh).await.expect_problem(401);
    }
    login(&Api::anonymous(), &here.email, "correct horse battery")
        .await
        .expect_problem(401);
    assert_eq!(
        login(&Api::anonymous(), &here.email, "a brand new password")
            .await
            .status,
        200
    );
    let notices: Vec<_> = service_tests::wait_for_mail(&here.email, 4)
        .await
        .into_iter()
        .filter(|mail| mail["subject"] == "Your password was changed")
        .collect();
    assert_eq!(
        notices.len(),
        2,
        "one for the reset that set it, one for the change"
    );
}

// Beside a_second_reset_replaces_the_password_and_the_earlier_token: both wait out the one
// reset email a minute, and tests of one file wait at the same time.
#[tokio::test]
async fn suspending_deleting_and_a_new_password_revoke_every_session() {
    let admin = Api::default();
    let suspended = new_user_session("suspended").await;
    assert_eq!(
        admin
            .post(&format!("/users/{}/suspend", suspended.id))
            .await
            .status,
        200
    );
    refresh(&suspended.refresh).await.expect_problem(401);

    let deleted = new_user_session("deleted").await;
    assert_eq!(
        admin.delete(&format!("/users/{}", deleted.id)).await.status,
        204
    );
    refresh(&deleted.refresh).await.expect_problem(401);

    let reset = new_user_session("reset").await;
    let anyone = Api::anonymous();
    // A change of address asked for with a stolen token, say: the reset voids it.
    let moved = unique_email("reset-moved");
    let asked = reset
        .api()
        .send_json(
            Method::PUT,
            &format!("/users/{}/email", reset.id),
            &json!({ "email": moved }),
        )
        .await;
    assert_eq!(asked.status, 202, "{}", asked.body);
    let change_token = email_change_token(&moved).await;
    // One reset email a minute per address.
    pass_the_reset_minute(&reset.id).await;
    anyone
        .send_json(
            Method::POST,
            "/password-reset",
            &json!({"email": reset.email}),
        )
        .await;
    // A second token for the same user; the password resets through it.
    let token = reset_token(&reset.email).await;
    let body = json!({"token": token, "new_password": "another good password"});
    assert_eq!(
        anyone
            .send_json(Method::POST, "/password-reset/confirm", &body)
            .await
            .status,
        204
    );
    refresh(&reset.refresh).await.expect_problem(401);
    assert_eq!(
        service_tests::login(&reset.email, "another good password")
            .await
            .status,
        200
    );
    let confirmed = anyone
        .send_json(
            Method::POST,
            "/email-change/confirm",
            &json!({ "token": change_token }),
        )
        .await;
    confirmed.expect_problem(400);
    let still = service_tests::login(&reset.email, "another good password").await;
    assert_eq!(
        still.body["user"]["email"],
        reset.email.as_str(),
        "not moved"
    );
}

/// The token of the email-change email sent to `address`.
async fn email_change_token(address: &str) -> String {
    service_tests::wait_for_mail(address, 1).await[0]["body"]["text"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("token="))
        .expect("a token line")
        .to_owned()
}
