//! One function's debug binary started beside the local stack as Lambda would start it, with
//! settings of its own (the stack's `cargo lambda watch` serves every function with one set),
//! invoked through the bench's Runtime API.

use serde_json::{Value, json};
use std::time::Duration;

pub struct StartedFunction {
    runtime: bench::runtime_api::RuntimeApi,
    process: std::process::Child,
}

impl StartedFunction {
    /// Starts `target/debug/<name>` (built by `make test`) with the stack's settings and
    /// `settings` on top, and waits for its initialisation.
    pub async fn start(name: &str, settings: &[(&str, &str)]) -> Self {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| root.join("target"));
        let binary = target.join("debug").join(name);
        let mut runtime = bench::runtime_api::RuntimeApi::start(name).await.unwrap();
        let mut own: Vec<(String, String)> = std::env::vars()
            .filter(|(variable, _)| {
                variable.starts_with("AWS_ENDPOINT_URL")
                    || variable.starts_with("JWT_")
                    || ["TABLE_NAME", "RUST_LOG"].contains(&variable.as_str())
            })
            .filter(|(variable, _)| variable != "JWT_SIGNING_KEY")
            .collect();
        own.extend(
            settings
                .iter()
                .map(|(variable, value)| ((*variable).to_owned(), (*value).to_owned())),
        );
        let environment = bench::process::lambda_environment(name, &runtime.address(), &own);
        let log = std::fs::File::create(std::env::temp_dir().join(format!("{name}-started.log")))
            .unwrap();
        let process = bench::process::launch(&binary, &environment, &log)
            .unwrap_or_else(|error| panic!("{binary:?} (built by make test): {error}"));
        runtime.initialized(Duration::from_secs(30)).await.unwrap();
        Self { runtime, process }
    }

    /// `GET path` with `token`, as API Gateway would hand it over: the status and the body.
    pub async fn get(&mut self, path: &str, token: &str) -> (u64, Value) {
        let route = format!("GET {path}");
        let event = json!({
            "version": "2.0",
            "routeKey": route,
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"authorization": format!("Bearer {token}"), "accept": "application/json"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "e2e", "requestId": "e2e",
                "routeKey": route, "stage": "$default",
                "time": "07/Dec/2026:00:00:00 +0000", "timeEpoch": 1_796_601_600_000_u64,
                "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": "127.0.0.1", "userAgent": "e2e"},
            },
            "isBase64Encoded": false,
        });
        let invocation = self
            .runtime
            .invoke(&event, Duration::from_secs(30))
            .await
            .unwrap();
        let response = invocation.response;
        let body = response["body"].as_str().unwrap_or("null");
        (
            response["statusCode"].as_u64().unwrap(),
            serde_json::from_str(body).unwrap_or(Value::Null),
        )
    }
}

impl Drop for StartedFunction {
    fn drop(&mut self) {
        bench::process::stop(&mut self.process);
    }
}
