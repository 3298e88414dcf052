//! The summary: medians over rounds, the floors, the targets, as JSON and as markdown.

use crate::stats::{mean_billed_ms, median, percentile};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Lambda arm64 price per GB-second and per request (us-east-1, 2026).
const ARM64_USD_PER_GB_SECOND: f64 = 0.000_013_333_4;
const USD_PER_MILLION_REQUESTS: f64 = 0.20;
const MEMORY_GB: f64 = 128.0 / 1024.0;

/// One function in one round: every cold start's init and first invocation, and the warm
/// invocations, peak memory and CPU of the long-running process.
#[derive(Debug, Default, Clone)]
pub struct RoundSample {
    pub init_ms: Vec<f64>,
    pub first_ms: Vec<f64>,
    pub warm_ms: Vec<f64>,
    pub peak_rss_kib: u64,
    pub cpu_ms_per_1000: f64,
}

#[derive(Debug, Default)]
pub struct Results {
    pub settings: Value,
    pub functions: BTreeMap<String, Vec<RoundSample>>,
    /// Floor name → one list of round-trip times per round.
    pub floors: BTreeMap<String, Vec<Vec<f64>>>,
    /// Function → the function, the empty Lambda and its floors measured in turns (the
    /// ratio targets) → one list of times per round.
    pub beside: BTreeMap<String, BTreeMap<String, Vec<Vec<f64>>>>,
    /// Function → DynamoDB operation → calls per request.
    pub calls: BTreeMap<String, BTreeMap<String, f64>>,
    /// Function → DynamoDB operation → calls during init.
    pub init_calls: BTreeMap<String, BTreeMap<String, u64>>,
    pub sizes: BTreeMap<String, (Option<u64>, Option<u64>)>,
}

/// The median over rounds of `statistic` applied to each round.
fn over_rounds(samples: &[RoundSample], statistic: impl Fn(&RoundSample) -> f64) -> f64 {
    median(&samples.iter().map(statistic).collect::<Vec<_>>())
}

fn floor_percentile(rounds: &[Vec<f64>], p: f64) -> f64 {
    median(
        &rounds
            .iter()
            .map(|round| percentile(round, p))
            .collect::<Vec<_>>(),
    )
}

/// p50, p90 and p99 (each the median over rounds) of a series of times.
fn series_stats(rounds: &[Vec<f64>]) -> Value {
    json!({
        "p50": round3(floor_percentile(rounds, 50.0)),
        "p90": round3(floor_percentile(rounds, 90.0)),
        "p99": round3(floor_percentile(rounds, 99.0)),
        "samples_per_round": rounds.first().map_or(0, Vec::len),
    })
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

impl Results {
    pub fn summary(&self) -> Value {
        let functions: serde_json::Map<String, Value> = self
            .functions
            .iter()
            .map(|(name, rounds)| (name.clone(), self.function_summary(name, rounds)))
            .collect();
        let floors: serde_json::Map<String, Value> = self
            .floors
            .iter()
            .map(|(name, rounds)| (name.clone(), series_stats(rounds)))
            .collect();
        let beside: serde_json::Map<String, Value> = self
            .beside
            .iter()
            .map(|(function, series)| {
                let p50s: serde_json::Map<String, Value> = series
                    .iter()
                    .map(|(name, rounds)| (name.clone(), series_stats(rounds)))
                    .collect();
                (function.clone(), p50s.into())
            })
            .collect();
        json!({
            "settings": self.settings,
            "machine": machine(),
            "floors_ms": floors,
            "beside_floors_ms": beside,
            "functions": functions,
            "targets": self.targets(),
        })
    }

    fn function_summary(&self, name: &str, rounds: &[RoundSample]) -> Value {
        let warm = |p: f64| round3(over_rounds(rounds, |round| percentile(&round.warm_ms, p)));
        let billed_ms = over_rounds(rounds, |round| mean_billed_ms(&round.warm_ms));
        let (binary_bytes, zip_bytes) = self.sizes.get(name).copied().unwrap_or_default();
        json!({
            "init_ms": {
                "p50": round3(over_rounds(rounds, |round| percentile(&round.init_ms, 50.0))),
                "p90": round3(over_rounds(rounds, |round| percentile(&round.init_ms, 90.0))),
            },
            "first_invocation_ms": {
                "p50": round3(over_rounds(rounds, |round| percentile(&round.first_ms, 50.0))),
            },
            "warm_ms": {"p50": warm(50.0), "p90": warm(90.0), "p99": warm(99.0)},
            "warm_invocations_per_round": rounds.first().map_or(0, |round| round.warm_ms.len()),
            "cold_starts_per_round": rounds.first().map_or(0, |round| round.init_ms.len()),
            "peak_rss_kib": over_rounds(rounds, |round| round.peak_rss_kib as f64),
            "cpu_ms_per_1000": round3(over_rounds(rounds, |round| round.cpu_ms_per_1000)),
            "binary_bytes": binary_bytes,
            "zip_bytes": zip_bytes,
            "dynamodb_calls_per_request": self.calls.get(name),
            "dynamodb_calls_in_init": self.init_calls.get(name),
            "billed_ms_mean": round3(billed_ms),
            "usd_per_million_128mb_arm64": (usd_per_million(billed_ms) * 10_000.0).round() / 10_000.0,
        })
    }

    fn warm_p50(&self, function: &str) -> Option<f64> {
        let rounds = self.functions.get(function)?;
        Some(over_rounds(rounds, |round| {
            percentile(&round.warm_ms, 50.0)
        }))
    }

    fn init_p50(&self, function: &str) -> Option<f64> {
        let rounds = self.functions.get(function)?;
        Some(over_rounds(rounds, |round| {
            percentile(&round.init_ms, 50.0)
        }))
    }

    fn floor_p50(&self, floor: &str) -> Option<f64> {
        Some(floor_percentile(self.floors.get(floor)?, 50.0))
    }

    /// The p50 of `series` measured in turns with `function`.
    fn beside_p50(&self, function: &str, series: &str) -> Option<f64> {
        Some(floor_percentile(
            self.beside.get(function)?.get(series)?,
            50.0,
        ))
    }

    /// The targets, each as measured value against its limit.
    pub fn targets(&self) -> Vec<Value> {
        let mut targets = Vec::new();
        let target = |name: String, value: f64, limit: f64, unit: &str| json!({"target": name, "value": round3(value), "limit": limit, "unit": unit, "met": value <= limit});
        let empty = self.warm_p50("empty-lambda");
        // get-user verifies a token on every request, so its floor includes a bare
        // verification; create-user is public and verifies nothing, and sends no email (its
        // floor's transaction has the outbox item the mailer sends later).
        let verify = self.floor_p50("verify_token").unwrap_or(0.0);
        for (function, floor, verification) in [
            ("get-user", "get_item", verify),
            ("create-user", "transact_write_items", 0.0),
        ] {
            // Measured in turns when the run did so; else apart, minutes from each other.
            let in_turns = self.beside.contains_key(function);
            let (measured, floor_ms, empty) = if in_turns {
                (
                    self.beside_p50(function, function),
                    self.beside_p50(function, floor),
                    self.beside_p50(function, "empty-lambda"),
                )
            } else {
                (self.warm_p50(function), self.floor_p50(floor), empty)
            };
            if let (Some(measured), Some(floor_ms), Some(empty)) = (measured, floor_ms, empty) {
                let verified = if verification > 0.0 {
                    " + verify_token p50"
                } else {
                    ""
                };
                let how = if in_turns { ", in turns" } else { "" };
                targets.push(target(
                    format!(
                        "{function} warm p50 / ({floor} p50{verified} + empty-lambda warm p50){how}"
                    ),
                    measured / (floor_ms + verification + empty),
                    1.05,
                    "ratio",
                ));
            }
        }
        let empty_init = self.init_p50("empty-lambda");
        for (name, rounds) in &self.functions {
            if name == "empty-lambda" {
                continue;
            }
            // Argon2id's 19 MiB and its hashing are these two functions' memory and time.
            let hashes_passwords = PASSWORD_HASHING.contains(&name.as_str());
            if let (Some(init), Some(empty_init)) = (self.init_p50(name), empty_init)
                && !hashes_passwords
            {
                targets.push(target(
                    format!("{name} init p50 / empty-lambda init p50"),
                    init / empty_init,
                    1.5,
                    "ratio",
                ));
            }
            let rss_bytes = over_rounds(rounds, |round| round.peak_rss_kib as f64) * 1024.0;
            targets.push(target(
                format!("{name} peak RSS"),
                rss_bytes / 1e6,
                if hashes_passwords { 32.0 } else { 10.0 },
                "MB",
            ));
            if let Some((Some(binary), _)) = self.sizes.get(name) {
                targets.push(target(
                    format!("{name} stripped binary"),
                    *binary as f64 / 1e6,
                    6.0,
                    "MB",
                ));
            }
        }
        targets
    }
}

/// The functions that hash passwords with Argon2id.
const PASSWORD_HASHING: [&str; 2] = ["login", "confirm-password-reset"];

/// Requests plus billed duration at 128 MB on arm64, per million invocations.
fn usd_per_million(billed_ms: f64) -> f64 {
    USD_PER_MILLION_REQUESTS + 1e6 * (billed_ms / 1000.0) * MEMORY_GB * ARM64_USD_PER_GB_SECOND
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned());
    json!({
        "cpus": std::thread::available_parallelism().map_or(0, usize::from),
        "model": model,
    })
}

/// The summary as markdown tables.
pub fn markdown(summary: &Value) -> String {
    let mut out = String::from("# Bench summary\n\n");
    let _ = writeln!(
        out,
        "Settings: `{}`  \nMachine: `{}`\n",
        summary["settings"], summary["machine"]
    );
    out.push_str(
        "| function | init p50 | first p50 | warm p50 | warm p90 | warm p99 | peak RSS | CPU / 1000 | binary | zip | DynamoDB calls / request | $ / M (128 MB arm64) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |\n",
    );
    let empty = serde_json::Map::new();
    for (name, function) in summary["functions"].as_object().unwrap_or(&empty) {
        let megabytes = |value: &Value| {
            value
                .as_f64()
                .map_or("-".to_owned(), |bytes| format!("{:.2} MB", bytes / 1e6))
        };
        let calls = function["dynamodb_calls_per_request"]
            .as_object()
            .map(|calls| {
                let listed: Vec<String> = calls
                    .iter()
                    .map(|(operation, count)| format!("{operation} {count}"))
                    .collect();
                if listed.is_empty() {
                    "none".to_owned()
                } else {
                    listed.join(", ")
                }
            })
            .unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(
            out,
            "| {name} | {:.2} ms | {:.2} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.1} MB | {:.0} ms | {} | {} | {calls} | {:.4} |",
            function["init_ms"]["p50"].as_f64().unwrap_or_default(),
            function["first_invocation_ms"]["p50"]
                .as_f64()
                .unwrap_or_default(),
            function["warm_ms"]["p50"].as_f64().unwrap_or_default(),
            function["warm_ms"]["p90"].as_f64().unwrap_or_default(),
            function["warm_ms"]["p99"].as_f64().unwrap_or_default(),
            function["peak_rss_kib"].as_f64().unwrap_or_default() * 1024.0 / 1e6,
            function["cpu_ms_per_1000"].as_f64().unwrap_or_default(),
            megabytes(&function["binary_bytes"]),
            megabytes(&function["zip_bytes"]),
            function["usd_per_million_128mb_arm64"]
                .as_f64()
                .unwrap_or_default(),
        );
    }
    out.push_str("\n| floor (bare SDK call, reused client) | p50 | p90 | p99 |\n| --- | ---: | ---: | ---: |\n");
    for (name, floor) in summary["floors_ms"].as_object().unwrap_or(&empty) {
        let _ = writeln!(
            out,
            "| {name} | {:.3} ms | {:.3} ms | {:.3} ms |",
            floor["p50"].as_f64().unwrap_or_default(),
            floor["p90"].as_f64().unwrap_or_default(),
            floor["p99"].as_f64().unwrap_or_default(),
        );
    }
    let beside = summary["beside_floors_ms"].as_object().unwrap_or(&empty);
    if !beside.is_empty() {
        out.push_str("\n| measured in turns (the ratio targets) | series | p50 | p90 |\n| --- | --- | ---: | ---: |\n");
    }
    for (function, series) in beside {
        for (name, stats) in series.as_object().unwrap_or(&empty) {
            let _ = writeln!(
                out,
                "| {function} | {name} | {:.3} ms | {:.3} ms |",
                stats["p50"].as_f64().unwrap_or_default(),
                stats["p90"].as_f64().unwrap_or_default(),
            );
        }
    }
    out.push_str("\n| target | measured | limit | met |\n| --- | ---: | ---: | --- |\n");
    for target in summary["targets"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "| {} | {:.3} {} | {} | {} |",
            target["target"].as_str().unwrap_or_default(),
            target["value"].as_f64().unwrap_or_default(),
            target["unit"].as_str().unwrap_or_default(),
            target["limit"],
            if target["met"] == true {
                "yes"
            } else {
                "**no**"
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio_of(results: &Results, function: &str) -> (String, f64) {
        let target = results
            .targets()
            .into_iter()
            .find(|target| {
                target["target"]
                    .as_str()
                    .is_some_and(|name| name.starts_with(&format!("{function} warm")))
            })
            .expect("a ratio target");
        (
            target["target"].as_str().unwrap_or_default().to_owned(),
            target["value"].as_f64().unwrap_or_default(),
        )
    }

    fn warm(ms: f64) -> RoundSample {
        RoundSample {
            warm_ms: vec![ms; 3],
            ..RoundSample::default()
        }
    }

    #[test]
    fn the_ratio_is_read_from_the_turns_when_the_run_measured_them() {
        let mut results = Results::default();
        results
            .functions
            .insert("create-user".into(), vec![warm(3.0)]);
        results
            .functions
            .insert("empty-lambda".into(), vec![warm(0.5)]);
        results
            .floors
            .insert("transact_write_items".into(), vec![vec![2.5; 3]]);
        let (name, apart) = ratio_of(&results, "create-user");
        assert!(!name.ends_with("in turns"), "{name}");
        assert_eq!(apart, 1.0);

        let turns = [
            ("create-user", 2.2),
            ("empty-lambda", 0.1),
            ("transact_write_items", 2.0),
        ]
        .map(|(series, ms)| (series.to_owned(), vec![vec![ms; 3]]));
        results
            .beside
            .insert("create-user".into(), turns.into_iter().collect());
        let (name, in_turns) = ratio_of(&results, "create-user");
        assert!(name.ends_with("in turns"), "{name}");
        assert_eq!(in_turns, 1.048);
    }
}
