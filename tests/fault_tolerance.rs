//! Faults, by freezing a local service (SIGSTOP) and thawing it (SIGCONT). DynamoDB frozen
//! mid-flight: requests answer 503 problem JSON with Retry-After well within API Gateway's
//! 29 s, and work again once it thaws, the stream poller included. SES frozen: requests do not
//! notice (email goes through the outbox), and every email arrives after the thaw, once.
//! KMS frozen: a request that emails a token answers 503 and stores nothing. A token that the
//! mailer cannot open is retried, dead-lettered on the local SQS queue, and `make redrive`
//! sends it once the key is back. The event bus (moto) frozen: requests do not notice (events go
//! through the outbox too), and every event arrives after the thaw, once.
//! In their own binary, one at a time, so no other test runs while a service is frozen.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::events::{detail_types, published_about};
use service_tests::{
    Api, local_kms, local_sqs, mail_settled, mailbox_for, reset_tokens, unique_email, wait_for_mail,
};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// One frozen service at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn pid_of(variable: &str, default: &str) -> String {
    let file = std::env::var(variable)
        .unwrap_or_else(|_| format!("{}/../.devstack/run/{default}", env!("CARGO_MANIFEST_DIR")));
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{file}: {e} (run make test)"))
        .trim()
        .to_owned()
}

fn dynamodb_pid() -> String {
    pid_of("DYNAMODB_PID_FILE", "dynamodb.pid")
}

fn ses_pid() -> String {
    pid_of("SES_PID_FILE", "ses.pid")
}

fn moto_pid() -> String {
    pid_of("MOTO_PID_FILE", "moto.pid")
}

fn poller_pid() -> String {
    pid_of("POLLER_PID_FILE", "poller.pid")
}

fn signal(name: &str, pid: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// Thaws DynamoDB Local however the test ends.
struct Frozen(String);

impl Frozen {
    fn new(pid: String) -> Self {
        signal("STOP", &pid);
        Self(pid)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("CONT", &self.0);
    }
}

#[tokio::test]
async fn a_frozen_store_gives_a_quick_503_and_recovery_follows_the_thaw() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let api = Api::default();
    let id = api.create_user(&unique_email("frozen"), "Frozen").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/users/{id}");
    assert_eq!(
        api.get(&path).await.status,
        200,
        "the function is warm and its connection open"
    );

    {
        let _frozen = Frozen::new(dynamodb_pid());
        let started = Instant::now();
        let reply = api.get(&path).await;
        let took = started.elapsed();
        let problem = reply.expect_problem(503);
        assert!(
            reply
                .header("retry-after")
                .is_some_and(|value| value.parse::<u32>().is_ok()),
            "Retry-After"
        );
        assert!(
            !problem.to_string().to_lowercase().contains("dynamodb"),
            "no AWS detail: {problem}"
        );
        assert!(
            took < Duration::from_secs(15),
            "answered in {took:?}, must be well within 29 s"
        );

        let write = api.post(&format!("{path}/suspend")).await;
        write.expect_problem(503);
    }

    let mut recovered = false;
    for _ in 0..20 {
        if api.get(&path).await.status == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "requests succeed again after the thaw");
    assert_eq!(
        api.get(&path).await.body["status"],
        "active",
        "the failed suspend changed nothing"
    );
    // The stream poller lost DynamoDB Local too, and follows the stream again.
    let after = unique_email("after-thaw");
    api.create_user(&after, "After").await;
    wait_for_mail(&after, 1).await;
}

#[tokio::test]
async fn with_ses_frozen_requests_do_not_wait_and_every_email_arrives_once_after_the_thaw() {
    let _alone = ONE_AT_A_TIME.lock().await;
    mail_settled().await;
    let api = Api::default();
    let addresses: Vec<String> = (0..20)
        .map(|n| unique_email(&format!("frozen-ses-{n}")))
        .collect();
    let order = json!({"items": [{"sku": "FROZEN", "quantity": 1, "unit_price": {"amount": "1.00", "currency": "EUR"}}]});

    let slowest;
    {
        let _frozen = Frozen::new(ses_pid());
        let mut took = Vec::new();
        let mut ids = Vec::new();
        for address in &addresses {
            let started = Instant::now();
            let user = api.create_user(address, "Frozen Mail").await;
            took.push(started.elapsed());
            ids.push(user["id"].as_str().unwrap().to_owned());
        }
        for id in &ids[..5] {
            let started = Instant::now();
            let reply = api
                .send_json(Method::POST, &format!("/users/{id}/orders"), &order)
                .await;
            took.push(started.elapsed());
            assert_eq!(reply.status, 201, "{}", reply.body);
        }
        slowest = took.into_iter().max().unwrap();
    }
    // Sending inside the request would have waited out the SES client's timeout (5 s) at least
    // once; through the outbox none of the 25 requests touches SES.
    assert!(
        slowest < Duration::from_secs(5),
        "a request waited for the frozen SES: {slowest:?}"
    );
    for (n, address) in addresses.iter().enumerate() {
        let expected = if n < 5 { 2 } else { 1 };
        wait_for_mail(address, expected).await;
    }
    mail_settled().await;
    for (n, address) in addresses.iter().enumerate() {
        let mails = wait_for_mail(address, 1).await;
        let subjects: Vec<&str> = mails
            .iter()
            .map(|mail: &Value| mail["subject"].as_str().unwrap())
            .collect();
        let expected = if n < 5 { 2 } else { 1 };
        assert_eq!(
            subjects.len(),
            expected,
            "{address}: {subjects:?}, none twice"
        );
    }
}

#[tokio::test]
async fn with_the_event_bus_frozen_requests_do_not_wait_and_every_event_arrives_once_after_the_thaw()
 {
    let _alone = ONE_AT_A_TIME.lock().await;
    let api = Api::default();
    let order = json!({"items": [{"sku": "FROZEN", "quantity": 1, "unit_price": {"amount": "1.00", "currency": "EUR"}}]});
    let mut ids = Vec::new();
    let mut took = Vec::new();
    {
        let _frozen = Frozen::new(moto_pid());
        for n in 0..2 {
            let started = Instant::now();
            let user = api
                .create_user(&unique_email(&format!("frozen-bus-{n}")), "Frozen Bus")
                .await;
            let id = user["id"].as_str().unwrap().to_owned();
            let placed = api
                .send_json(Method::POST, &format!("/users/{id}/orders"), &order)
                .await;
            assert_eq!(placed.status, 201, "{}", placed.body);
            api.post(&format!("/users/{id}/suspend"))
                .await
                .expect_user(200);
            took.push(started.elapsed());
            ids.push(id);
        }
        // The publisher meets the frozen bus at least once (its readiness check gives up
        // after 2 s) before the thaw.
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    let slowest = took.into_iter().max().unwrap();
    assert!(
        slowest < Duration::from_secs(5),
        "a request waited for the frozen bus: {slowest:?}"
    );
    for id in &ids {
        let events = published_about(id, 3, Duration::from_secs(60)).await;
        assert_eq!(
            detail_types(&events),
            ["UserRegistered", "OrderPlaced", "UserSuspended"],
            "{id}: each once, after the thaw"
        );
    }
}

async fn ask_for_reset(address: &str) -> service_tests::Reply {
    Api::anonymous()
        .send_json(
            Method::POST,
            "/password-reset",
            &json!({ "email": address }),
        )
        .await
}

#[tokio::test]
async fn with_kms_frozen_a_token_request_is_a_503_that_stores_nothing_and_works_after_the_thaw() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let api = Api::default();
    let address = unique_email("frozen-kms");
    api.create_user(&address, "Frozen Key").await;
    wait_for_mail(&address, 1).await;

    {
        let _frozen = Frozen::new(moto_pid());
        let started = Instant::now();
        let reply = ask_for_reset(&address).await;
        let took = started.elapsed();
        reply.expect_problem(503);
        assert!(reply.header("retry-after").is_some(), "Retry-After");
        assert!(took < Duration::from_secs(15), "answered in {took:?}");
    }
    assert_eq!(
        mailbox_for(&address).await.len(),
        1,
        "the welcome only: the refused request recorded no email"
    );
    // Nothing was stored either: the one-email-a-minute rule would otherwise answer 202 and
    // send nothing now.
    assert_eq!(ask_for_reset(&address).await.status, 202);
    let mails = wait_for_mail(&address, 2).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(reset_tokens(&address).await.len(), 1);
}

/// Points the local key's alias at another key until dropped: the mailer, which names the
/// alias when it decrypts, cannot open what was sealed before.
struct KeySwapped {
    alias: String,
    original: String,
}

impl KeySwapped {
    async fn new() -> Self {
        let kms = local_kms().await;
        let alias = std::env::var("SECRETS_KEY_ID")
            .unwrap_or_else(|_| "alias/user-service-local".to_owned());
        let aliases = kms.list_aliases().send().await.unwrap();
        let original = aliases
            .aliases()
            .iter()
            .find(|entry| entry.alias_name() == Some(alias.as_str()))
            .and_then(|entry| entry.target_key_id())
            .expect("the local key's alias")
            .to_owned();
        let other = kms
            .create_key()
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        kms.update_alias()
            .alias_name(&alias)
            .target_key_id(other)
            .send()
            .await
            .unwrap();
        Self { alias, original }
    }
}

impl Drop for KeySwapped {
    fn drop(&mut self) {
        let (alias, original) = (self.alias.clone(), self.original.clone());
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                local_kms()
                    .await
                    .update_alias()
                    .alias_name(alias)
                    .target_key_id(original)
                    .send()
                    .await
                    .unwrap();
            })
        });
    }
}

async fn dead_letters_waiting() -> usize {
    let queue = std::env::var("DEAD_LETTER_QUEUE_URL").unwrap_or_else(|_| {
        "http://127.0.0.1:8006/123456789012/user-service-dead-letters-local".to_owned()
    });
    let attributes = local_sqs()
        .await
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    attributes
        .attributes()
        .and_then(|all| {
            all.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        })
        .and_then(|count| count.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_the_mailer_cannot_open_is_dead_lettered_and_make_redrive_sends_it() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let address = unique_email("dead-lettered");
    Api::anonymous().create_user(&address, "Dead Letter").await;
    wait_for_mail(&address, 1).await;
    let waiting_before = dead_letters_waiting().await;

    {
        // The reset is sealed under the local key while the mailer is held back, then the
        // alias moves: every delivery of it fails to decrypt.
        let poller_held = Frozen::new(poller_pid());
        assert_eq!(ask_for_reset(&address).await.status, 202);
        let _swapped = KeySwapped::new().await;
        drop(poller_held);
        let deadline = Instant::now() + Duration::from_secs(90);
        while dead_letters_waiting().await <= waiting_before {
            assert!(
                Instant::now() < deadline,
                "no dead letter within 90 s (see .devstack/run/poller.log)"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert_eq!(mailbox_for(&address).await.len(), 1, "not sent");
    }

    let redrive = Command::new("make")
        .args(["-s", "redrive"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&redrive.stdout);
    assert!(
        redrive.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&redrive.stderr)
    );
    let mail_queue = said
        .lines()
        .find(|line| line.contains("/user-service-dead-letters-local:"))
        .unwrap_or_default();
    assert!(
        mail_queue.contains("outbox item(s) handed over again")
            && !mail_queue.contains(" 0 outbox item(s)"),
        "{said}"
    );
    wait_for_mail(&address, 2).await;
    let token = reset_tokens(&address).await.pop().unwrap();
    let confirmed = Api::anonymous()
        .send_json(
            Method::POST,
            "/password-reset/confirm",
            &json!({"token": token, "new_password": "correct horse battery"}),
        )
        .await;
    assert_eq!(confirmed.status, 204, "{}", confirmed.body);
    assert_eq!(dead_letters_waiting().await, 0, "the queue is empty");
}
