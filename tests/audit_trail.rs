//! The audit trail end to end (README, "Audit events"): one JSON line per security event of a
//! whole account's life, each with its outcome, actor, target, request id and source IP, and
//! nothing else: no address, name, token or password.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{Api, api_log, local_admin, login, new_user_session, unique_email};
use std::collections::BTreeSet;
use std::time::Duration;

/// Every field an audit line may carry.
const FIELDS: [&str; 8] = [
    "level",
    "message",
    "event",
    "outcome",
    "actor_id",
    "target_id",
    "request_id",
    "source_ip",
];

fn audit_lines_about(log: &str, id: &str) -> Vec<Value> {
    log.lines()
        .filter(|line| line.starts_with('{'))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "audit" && line["target_id"] == id)
        .collect()
}

#[tokio::test]
async fn a_whole_account_life_leaves_one_audit_line_per_event_and_no_personal_data() {
    let ada = new_user_session("audited").await;
    let anyone = Api::anonymous();
    let post = |path: &'static str, body: Value| {
        let anyone = anyone.clone();
        async move { anyone.send_json(Method::POST, path, &body).await }
    };

    let renewed = post("/token/refresh", json!({"refresh_token": ada.refresh})).await;
    assert_eq!(renewed.status, 200);
    let reused = post("/token/refresh", json!({"refresh_token": ada.refresh})).await;
    assert_eq!(reused.status, 401);
    let session = login(&ada.email, "correct horse battery").await.body;
    let refresh = session["refresh_token"].as_str().unwrap().to_owned();
    let access = session["access_token"].as_str().unwrap().to_owned();
    let new_email = unique_email("audited-new");
    let request = Api::with_token(&access)
        .send_json(
            Method::PUT,
            &format!("/users/{}/email", ada.id),
            &json!({"email": new_email}),
        )
        .await;
    assert_eq!(request.status, 202);
    let token = service_tests::mailbox_for(&new_email).await[0]["body"]["text"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("token="))
        .unwrap()
        .to_owned();
    assert_eq!(
        post("/email-change/confirm", json!({"token": token}))
            .await
            .status,
        200
    );
    // After the request: a logged-out session's access token no longer works.
    assert_eq!(
        post("/logout", json!({"refresh_token": refresh}))
            .await
            .status,
        204
    );

    for _ in 0..6 {
        login(&new_email, "not the password at all").await;
    }
    let admin = Api::default();
    for action in ["suspend", "activate"] {
        admin.post(&format!("/users/{}/{action}", ada.id)).await;
    }
    admin
        .send_json(
            Method::PUT,
            &format!("/users/{}/role", ada.id),
            &json!({"role": "admin"}),
        )
        .await;
    admin.delete(&format!("/users/{}", ada.id)).await;

    let expected: BTreeSet<(&str, &str)> = [
        ("password_reset_request", "success"),
        ("password_set", "success"),
        ("login", "success"),
        ("token_refresh", "success"),
        // A reuse is a failed refresh and a detected reuse: two lines.
        ("token_refresh", "failure"),
        ("refresh_token_reuse", "denied"),
        ("logout", "success"),
        ("email_change_request", "success"),
        ("email_change", "success"),
        ("login", "failure"),
        ("lockout", "success"),
        ("suspend", "success"),
        ("activate", "success"),
        ("role_change", "success"),
        ("delete", "success"),
    ]
    .into();
    // The emulator forwards the functions' output as it comes; give it a moment.
    let mut lines = Vec::new();
    for _ in 0..50 {
        lines = audit_lines_about(&api_log(), &ada.id);
        if lines.iter().any(|line| line["event"] == "delete") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recorded: BTreeSet<(&str, &str)> = lines
        .iter()
        .map(|line| {
            (
                line["event"].as_str().unwrap(),
                line["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(recorded, expected);
    // A wrong password is somebody's attempt on the account, not the account's act.
    for failure in lines
        .iter()
        .filter(|line| line["event"] == "login" && line["outcome"] == "failure")
    {
        assert_eq!(failure["target_id"], ada.id.as_str(), "{failure}");
        assert!(failure.get("actor_id").is_none(), "no actor: {failure}");
    }
    // A locked address is refused before anyone's account is looked up: no target.
    let refused_while_locked = api_log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .any(|line| {
            line["message"] == "audit"
                && line["event"] == "login"
                && line["outcome"] == "denied"
                && line.get("target_id").is_none()
        });
    assert!(
        refused_while_locked,
        "the sixth attempt was refused as locked"
    );

    let (admin_email, admin_password) = local_admin();
    for line in &lines {
        let object = line.as_object().unwrap();
        assert!(
            object.keys().all(|key| FIELDS.contains(&key.as_str())),
            "an audit line with a field of its own: {line}"
        );
        for field in ["request_id", "source_ip"] {
            assert!(line[field].is_string(), "{field} missing: {line}");
        }
        let text = line.to_string();
        for secret in [
            &ada.email,
            &new_email,
            &ada.access,
            &ada.refresh,
            &token,
            &access,
            &admin_email,
            &admin_password,
            &"correct horse battery".to_owned(),
            &"Identity Tester".to_owned(),
        ] {
            assert!(!text.contains(secret.as_str()), "{secret} in {line}");
        }
        assert!(!text.contains('@'), "an address in {line}");
    }
    let by_admin = lines
        .iter()
        .find(|line| line["event"] == "suspend")
        .unwrap();
    assert_ne!(by_admin["actor_id"], ada.id.as_str(), "the admin acted");
    assert!(by_admin["actor_id"].is_string());
}
