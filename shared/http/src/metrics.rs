//! CloudWatch metrics in the embedded metric format (EMF): one JSON document per request on
//! stdout, which CloudWatch Logs turns into metrics with no API call and no agent.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The metric namespace, overridable per deployment.
const NAMESPACE_VARIABLE: &str = "METRICS_NAMESPACE";
const DEFAULT_NAMESPACE: &str = "UserService";

pub struct RequestMetrics {
    pub status: u16,
    pub latency_ms: f64,
    pub cold_start: bool,
}

impl RequestMetrics {
    /// The EMF document: `Requests`, `Latency`, `4xx`, `5xx` and `ColdStart`, by function.
    pub fn document(
        &self,
        namespace: &str,
        function: &str,
        timestamp_ms: u128,
    ) -> serde_json::Value {
        let count = |yes: bool| u8::from(yes);
        serde_json::json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["Function"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "4xx", "Unit": "Count"},
                        {"Name": "5xx", "Unit": "Count"},
                        {"Name": "ColdStart", "Unit": "Count"},
                    ],
                }],
            },
            "Function": function,
            "Requests": 1,
            "Latency": (self.latency_ms * 1000.0).round() / 1000.0,
            "4xx": count((400..500).contains(&self.status)),
            "5xx": count(self.status >= 500),
            "ColdStart": count(self.cold_start),
        })
    }

    pub fn emit(&self) {
        let namespace =
            std::env::var(NAMESPACE_VARIABLE).unwrap_or_else(|_| DEFAULT_NAMESPACE.to_owned());
        let function =
            std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "unknown".to_owned());
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|since| since.as_millis())
            .unwrap_or(0);
        let mut line = self.document(&namespace, &function, now_ms).to_string();
        line.push('\n');
        // Straight to stdout, not through `tracing`: EMF must be the whole line, and a log
        // formatter would wrap it. A failed write loses one metric, never the response.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
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
        let document = metrics.document("UserService", "get-user", 1_700_000_000_000);
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
        let document = RequestMetrics {
            status: 422,
            latency_ms: 1.0,
            cold_start: false,
        }
        .document("N", "f", 0);
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
