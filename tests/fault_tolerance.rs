//! DynamoDB frozen mid-flight (SIGSTOP on DynamoDB Local): requests must answer 503 problem
//! JSON with Retry-After well within API Gateway's 29 s, and work again once it thaws.
//! One test in its own binary, so no other test runs while the store is frozen.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use service_tests::{Api, unique_email};
use std::process::Command;
use std::time::{Duration, Instant};

fn dynamodb_pid() -> String {
    let file = std::env::var("DYNAMODB_PID_FILE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.devstack/run/dynamodb.pid").to_owned()
    });
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{file}: {e} (run make test)"))
        .trim()
        .to_owned()
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
}
