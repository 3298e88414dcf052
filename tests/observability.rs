//! The logs of a full request cycle, as the functions wrote them under the local stack: one
//! structured line per request with the fields an operator needs, EMF metrics, and no
//! personal data or secret anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{Api, api_log, api_log_path, local_admin, mailbox_for, unique_email};
use std::time::Duration;

/// The JSON lines the functions wrote (the emulator's own lines are plain text).
fn function_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|line| line.starts_with('{'))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[tokio::test]
async fn a_full_cycle_logs_every_request_with_its_fields_and_no_personal_data() {
    let api = Api::default();
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let email = unique_email(&format!("observed{}", &marker[..8]));
    let name = format!("Observed Person {marker}");
    let password = format!("secret-{marker}");

    let user = api.create_user(&email, &name).await;
    let id = user["id"].as_str().unwrap().to_owned();
    api.send_json(Method::POST, "/password-reset", &json!({"email": email}))
        .await;
    let token = mailbox_for(&email)
        .await
        .iter()
        .find_map(|mail| {
            mail["body"]["text"]
                .as_str()?
                .lines()
                .find_map(|l| l.strip_prefix("token="))
                .map(str::to_owned)
        })
        .expect("a reset email");
    api.send_json(
        Method::POST,
        "/password-reset/confirm",
        &json!({"token": token, "new_password": password}),
    )
    .await;
    assert_eq!(
        api.send_json(
            Method::POST,
            "/login",
            &json!({"email": email, "password": password})
        )
        .await
        .status,
        200
    );
    api.send_json(
        Method::POST,
        "/login",
        &json!({"email": email, "password": "wrong but long enough"}),
    )
    .await;
    api.get(&format!("/users/{id}")).await;
    api.send_json(
        Method::POST,
        "/users",
        &json!({"email": email, "name": name}),
    )
    .await; // 409
    let order = json!({"items": [{"sku": "LOGGED", "quantity": 1, "unit_price": {"amount": "1.00", "currency": "EUR"}}]});
    api.send_json(Method::POST, &format!("/users/{id}/orders"), &order)
        .await;

    // The emulator forwards the functions' output as it comes; give it a moment.
    let mut log = api_log();
    for _ in 0..50 {
        if log.contains("\"route\":\"POST /users/{id}/orders\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        log = api_log();
    }
    let lines = function_lines(&log);
    assert!(!lines.is_empty(), "the functions logged nothing");

    for secret in [
        &email,
        &email.to_lowercase(),
        &name,
        &marker,
        &token,
        &password,
    ] {
        assert!(
            !log.contains(secret.as_str()),
            "the log holds personal data or a secret: {secret}"
        );
    }
    let every_address = log
        .lines()
        .filter(|line| line.starts_with('{'))
        .any(|line| line.contains("@example.com"));
    assert!(!every_address, "some function logged an email address");

    let requests: Vec<&Value> = lines
        .iter()
        .filter(|line| line["message"] == "request")
        .collect();
    for line in &requests {
        assert!(
            line["request_id"].as_str().is_some_and(|id| id.len() > 8),
            "{line}"
        );
        assert!(
            line["method"].is_string() && line["route"].is_string(),
            "{line}"
        );
        assert!(
            line["status"].is_u64()
                && line["latency_ms"].is_f64()
                && line["cold_start"].is_boolean(),
            "{line}"
        );
        assert!(
            !line["route"].as_str().unwrap().contains(&id),
            "routes carry no ids: {line}"
        );
    }
    let routes: Vec<(&str, u64)> = requests
        .iter()
        .map(|line| {
            (
                line["route"].as_str().unwrap(),
                line["status"].as_u64().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("POST /users", 201),
        ("POST /users", 409),
        ("POST /login", 200),
        ("POST /login", 401),
        ("GET /users/{id}", 200),
        ("POST /password-reset", 202),
        ("POST /password-reset/confirm", 204),
        ("POST /users/{id}/orders", 201),
    ] {
        assert!(
            routes.contains(&expected),
            "no request line for {expected:?} in {routes:?}"
        );
    }
    assert!(
        requests.iter().any(|line| line["cold_start"] == true),
        "each function's first request is a cold start"
    );

    let metrics: Vec<&Value> = lines
        .iter()
        .filter(|line| line.get("_aws").is_some())
        .collect();
    assert!(
        metrics.len() >= requests.len(),
        "one EMF record per request"
    );
    assert!(
        metrics
            .iter()
            .any(|record| record["5xx"] == 0 && record["4xx"] == 1),
        "a 4xx was counted"
    );
}

/// `cargo lambda watch` logs the environment of every function instance it starts, into the
/// API log and, before `make run` filtered its console, onto the screen: the stack hands the
/// functions the signing key's path and no password, so neither secret is there.
#[tokio::test]
async fn the_stack_s_secrets_never_reach_the_api_log() {
    Api::default().get("/.well-known/jwks.json").await;
    let log = api_log();
    assert!(
        log.contains("AWS_LAMBDA_RUNTIME_API="),
        "the log holds the environment of the instances it started"
    );
    let signing_key = std::env::var("JWT_SIGNING_KEY").expect("make test sets JWT_SIGNING_KEY");
    assert!(
        !log.contains(signing_key.trim()),
        "the log holds the private signing key"
    );
    let (_, admin_password) = local_admin();
    assert!(
        !log.contains(&admin_password),
        "the log holds the local admin's password"
    );
}

/// What `make run` shows of the same log (.devstack/console.py): a line per request and the
/// warnings and errors; none of cargo lambda watch's spawn lines (with each instance's
/// environment), no metrics records, no audit lines, no per-instance emulator notices.
#[tokio::test]
async fn the_console_of_make_run_shows_requests_and_problems_only() {
    Api::default().get("/.well-known/jwks.json").await;
    let output = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.devstack/console.py"
        ))
        .arg("--once")
        .arg(api_log_path())
        .output()
        .expect("python3 runs the console");
    assert!(output.status.success(), "{output:?}");
    let console = String::from_utf8(output.stdout).unwrap();
    assert!(
        console.contains("  200  ") && console.contains("GET /.well-known/jwks.json"),
        "a line per request: {console}"
    );
    for line in console.lines() {
        let request = line.contains(" ms  ")
            && (line.contains(" GET ")
                || line.contains(" POST ")
                || line.contains(" PUT ")
                || line.contains(" DELETE "));
        let problem = ["WARN", "ERROR", "Error", "error", "panicked"]
            .iter()
            .any(|word| line.contains(word));
        let no_route = line.contains("no route matches the path");
        assert!(request || problem || no_route, "the console shows: {line}");
        for noise in [
            "spawning",
            "_aws",
            "AWS_LAMBDA_MAX_CONCURRENCY",
            "\"audit\"",
            "JWT_",
        ] {
            assert!(!line.contains(noise), "the console shows {noise}: {line}");
        }
    }
}

/// The segment documents the functions sent the local X-Ray sink for `trace_id`.
fn trace_documents(trace_id: &str) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../.devstack/run/traces.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .flat_map(|document| xray::flatten(&document))
        .filter(|document| document["trace_id"] == trace_id)
        .collect()
}

fn named<'a>(documents: &'a [Value], name: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|document| document["name"] == name)
        .collect()
}

#[tokio::test]
async fn one_requests_trace_holds_its_function_its_use_case_its_dynamodb_calls_and_the_mailers_work()
 {
    let email = unique_email("traced");
    let reply = Api::default()
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": email, "name": "Traced Person"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let trace_id = reply
        .header("x-trace-id")
        .expect("the response names its trace")
        .to_owned();
    let mut documents = Vec::new();
    for _ in 0..100 {
        documents = trace_documents(&trace_id);
        if !named(&documents, "send-email").is_empty()
            && !named(&documents, "publish-events").is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let function = named(&documents, "create-user");
    assert_eq!(function.len(), 1, "the function's segment: {documents:#?}");
    let function = function[0];
    assert!(function.get("parent_id").is_none() && function.get("type").is_none());
    let use_case = named(&documents, "CreateUser")[0];
    assert_eq!(use_case["type"], "subsegment");
    assert_eq!(use_case["parent_id"], function["id"]);
    let writes: Vec<&Value> = named(&documents, "DynamoDB")
        .into_iter()
        .filter(|call| call["parent_id"] == use_case["id"])
        .collect();
    assert_eq!(
        writes.len(),
        1,
        "one DynamoDB call registers: {documents:#?}"
    );
    assert_eq!(writes[0]["aws"]["operation"], "TransactWriteItems");
    assert_eq!(writes[0]["aws"]["resource"], "users-local");
    assert_eq!(writes[0]["http"]["response"]["status"], 200);

    // The welcome email, sent later by the mailer from the stream, joins the same trace under
    // the use case that recorded it, with its own calls inside.
    let mailer = named(&documents, "send-email");
    assert_eq!(mailer.len(), 1, "{documents:#?}");
    assert_eq!(mailer[0]["parent_id"], use_case["id"]);
    let sends: Vec<&Value> = named(&documents, "SESv2")
        .into_iter()
        .filter(|call| call["parent_id"] == mailer[0]["id"])
        .collect();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0]["aws"]["operation"], "SendEmail");
    let publisher = named(&documents, "publish-events");
    assert_eq!(publisher[0]["parent_id"], use_case["id"]);
    for document in &documents {
        assert!(document["end_time"].as_f64() >= document["start_time"].as_f64());
        let text = document.to_string();
        assert!(!text.contains(&email), "no address in a trace: {text}");
    }
}
