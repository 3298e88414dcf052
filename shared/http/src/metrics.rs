//! CloudWatch metrics in the embedded metric format (EMF): one JSON document per request on
//! stdout, which CloudWatch Logs turns into metrics with no API call and no agent.

use serde::Serialize;
use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The metric namespace, overridable per deployment.
const NAMESPACE_VARIABLE: &str = "METRICS_NAMESPACE";
const DEFAULT_NAMESPACE: &str = "UserService";

/// The metrics every document declares, with their units.
const DECLARED: [Declared; 5] = [
    Declared::new("Requests", "Count"),
    Declared::new("Latency", "Milliseconds"),
    Declared::new("4xx", "Count"),
    Declared::new("5xx", "Count"),
    Declared::new("ColdStart", "Count"),
];

pub struct RequestMetrics {
    pub status: u16,
    pub latency_ms: f64,
    pub cold_start: bool,
}

/// One EMF document, serialized straight to its line.
#[derive(Serialize)]
pub struct Document<'a> {
    #[serde(rename = "_aws")]
    aws: Metadata<'a>,
    #[serde(rename = "Function")]
    function: &'a str,
    #[serde(rename = "Requests")]
    requests: u8,
    #[serde(rename = "Latency")]
    latency: f64,
    #[serde(rename = "4xx")]
    client_errors: u8,
    #[serde(rename = "5xx")]
    server_errors: u8,
    #[serde(rename = "ColdStart")]
    cold_start: u8,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: u128,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: [[&'static str; 1]; 1],
    metrics: &'static [Declared],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Declared {
    name: &'static str,
    unit: &'static str,
}

impl Declared {
    const fn new(name: &'static str, unit: &'static str) -> Self {
        Self { name, unit }
    }
}

impl RequestMetrics {
    /// The EMF document: `Requests`, `Latency`, `4xx`, `5xx` and `ColdStart`, by function.
    pub fn document<'a>(
        &self,
        namespace: &'a str,
        function: &'a str,
        timestamp_ms: u128,
    ) -> Document<'a> {
        let count = |yes: bool| u8::from(yes);
        Document {
            aws: Metadata {
                timestamp: timestamp_ms,
                cloud_watch_metrics: [Directive {
                    namespace,
                    dimensions: [["Function"]],
                    metrics: &DECLARED,
                }],
            },
            function,
            requests: 1,
            latency: (self.latency_ms * 1000.0).round() / 1000.0,
            client_errors: count((400..500).contains(&self.status)),
            server_errors: count(self.status >= 500),
            cold_start: count(self.cold_start),
        }
    }

    pub fn emit(&self) {
        // The environment does not change in a process: read once, not per request.
        static NAMES: OnceLock<(String, String)> = OnceLock::new();
        let (namespace, function) = NAMES.get_or_init(|| {
            let variable = |name: &str, default: &str| {
                std::env::var(name).unwrap_or_else(|_| default.to_owned())
            };
            (
                variable(NAMESPACE_VARIABLE, DEFAULT_NAMESPACE),
                variable("AWS_LAMBDA_FUNCTION_NAME", "unknown"),
            )
        });
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis())
            .unwrap_or(0);
        let Ok(mut line) = serde_json::to_vec(&self.document(namespace, function, now_ms)) else {
            return;
        };
        line.push(b'\n');
        // Straight to stdout, not through `tracing`: EMF must be the whole line, and a log
        // formatter would wrap it. A failed write loses one metric, never the response.
        let _ = std::io::stdout().lock().write_all(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_error_counts_as_one_request_one_5xx_and_no_4xx() {
        let metrics = RequestMetrics {
            status: 503,
            latency_ms: 12.345_678,
            cold_start: true,
        };
        let document =
            serde_json::to_value(metrics.document("UserService", "get-user", 1_700_000_000_000))
                .unwrap();
        assert_eq!(document["Requests"], 1);
        assert_eq!(
            (document["4xx"].as_u64(), document["5xx"].as_u64()),
            (Some(0), Some(1))
        );
        assert_eq!(document["ColdStart"], 1);
        assert_eq!(document["Latency"], 12.346);
        assert_eq!(document["Function"], "get-user");
        let declared = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "UserService");
        for metric in declared["Metrics"].as_array().unwrap() {
            let name = metric["Name"].as_str().unwrap();
            assert!(
                document.get(name).is_some(),
                "declared metric {name} has no value"
            );
        }
    }

    #[test]
    fn a_client_error_is_a_4xx() {
        let metrics = RequestMetrics {
            status: 422,
            latency_ms: 1.0,
            cold_start: false,
        };
        let document = serde_json::to_value(metrics.document("N", "f", 0)).unwrap();
        assert_eq!(
            (
                document["4xx"].as_u64(),
                document["5xx"].as_u64(),
                document["ColdStart"].as_u64()
            ),
            (Some(1), Some(0), Some(0))
        );
    }
}
