//! What each function really touches in the table, for the test that holds the template's
//! grants (`dynamodb:LeadingKeys`) to it. With `RECORD_TABLE_ACCESS=true` (set by `make test`
//! only) the DynamoDB client gets this interceptor, which prints one JSON line per partition-key
//! kind each call reads or writes: `{"table_access": "read", "kind": "USER#*", "function":
//! "get-user", "operation": "BatchGetItem"}`. DynamoDB Local enforces no IAM, so without it a
//! missing grant would show only once deployed. Off, the client has no interceptor at all.
//!
//! A kind is the partition key up to its `#`, as the template writes it (`USER#*`), or the
//! whole key when it has none (`ADMINS`). Only kinds and names: never a key's value.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Write;

pub const RECORD_TABLE_ACCESS: &str = "RECORD_TABLE_ACCESS";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    Read,
    Write,
    /// A `ConditionCheck` in a transaction: its own IAM action (`ConditionCheckItem`).
    ConditionCheck,
    /// The whole table (a scan, or an operation this recorder does not know).
    Table,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::ConditionCheck => "condition_check",
            Self::Table => "table",
        }
    }
}

#[derive(Debug)]
pub struct TableAccessRecorder {
    function: String,
}

impl TableAccessRecorder {
    /// The recorder when `RECORD_TABLE_ACCESS` is `true`.
    pub fn from_env() -> Option<Self> {
        let on = std::env::var(RECORD_TABLE_ACCESS).is_ok_and(|value| value == "true");
        on.then(|| Self {
            function: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        })
    }
}

impl Intercept for TableAccessRecorder {
    fn name(&self) -> &'static str {
        "TableAccessRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let Some(operation) = request
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.strip_prefix("DynamoDB_20120810."))
        else {
            return Ok(());
        };
        let body = request
            .body()
            .bytes()
            .and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok())
            .unwrap_or(Value::Null);
        let mut out = std::io::stdout().lock();
        for (access, kind) in accesses(operation, &body) {
            let line = serde_json::json!({
                "table_access": access.as_str(),
                "kind": kind,
                "function": self.function,
                "operation": operation,
            });
            // Best effort, like the metrics lines: a lost line fails the test, not the call.
            let _ = writeln!(out, "{line}");
        }
        Ok(())
    }
}

/// The kinds a call touches, and how.
pub fn accesses(operation: &str, body: &Value) -> BTreeSet<(Access, String)> {
    let key_kind = |key: &Value| key["pk"]["S"].as_str().map(kind);
    let mut found = BTreeSet::new();
    let mut add = |access: Access, key: Option<String>| {
        found.insert((access, key.unwrap_or_else(|| "*".to_owned())));
    };
    match operation {
        "GetItem" => add(Access::Read, key_kind(&body["Key"])),
        "PutItem" => add(Access::Write, key_kind(&body["Item"])),
        "UpdateItem" | "DeleteItem" => add(Access::Write, key_kind(&body["Key"])),
        "BatchGetItem" => {
            for request in object_values(&body["RequestItems"]) {
                for key in request["Keys"].as_array().into_iter().flatten() {
                    add(Access::Read, key_kind(key));
                }
            }
        }
        "BatchWriteItem" => {
            for requests in object_values(&body["RequestItems"]) {
                for request in requests.as_array().into_iter().flatten() {
                    let key = if request["PutRequest"].is_object() {
                        &request["PutRequest"]["Item"]
                    } else {
                        &request["DeleteRequest"]["Key"]
                    };
                    add(Access::Write, key_kind(key));
                }
            }
        }
        // An index holds users only and its grant names the index; the table's partition is
        // the value the key condition compares `pk` with.
        "Query" if body["IndexName"].is_string() => {}
        "Query" => {
            let partition = body["KeyConditionExpression"]
                .as_str()
                .and_then(|condition| condition.split("pk = ").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|name| body["ExpressionAttributeValues"][name]["S"].as_str());
            add(Access::Read, partition.map(kind));
        }
        "TransactWriteItems" => {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                if item["Put"].is_object() {
                    add(Access::Write, key_kind(&item["Put"]["Item"]));
                } else if item["ConditionCheck"].is_object() {
                    add(
                        Access::ConditionCheck,
                        key_kind(&item["ConditionCheck"]["Key"]),
                    );
                } else {
                    let change = if item["Update"].is_object() {
                        &item["Update"]
                    } else {
                        &item["Delete"]
                    };
                    add(Access::Write, key_kind(&change["Key"]));
                }
            }
        }
        _ => add(Access::Table, None),
    }
    found
}

fn object_values(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_object().into_iter().flat_map(|map| map.values())
}

fn kind(partition_key: &str) -> String {
    match partition_key.split_once('#') {
        Some((prefix, _)) => format!("{prefix}#*"),
        None => partition_key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kinds(operation: &str, body: Value) -> Vec<(Access, String)> {
        accesses(operation, &body).into_iter().collect()
    }

    #[test]
    fn each_operation_names_the_kinds_of_the_keys_it_touches() {
        assert_eq!(
            kinds(
                "GetItem",
                json!({"Key": {"pk": {"S": "USER#1"}, "sk": {"S": "PROFILE"}}})
            ),
            [(Access::Read, "USER#*".to_owned())]
        );
        assert_eq!(
            kinds(
                "BatchGetItem",
                json!({"RequestItems": {"t": {"Keys": [
                    {"pk": {"S": "USER#1"}}, {"pk": {"S": "SESSION#1"}}, {"pk": {"S": "USER#2"}}
                ]}}})
            ),
            [
                (Access::Read, "SESSION#*".to_owned()),
                (Access::Read, "USER#*".to_owned())
            ]
        );
        assert_eq!(
            kinds(
                "Query",
                json!({"KeyConditionExpression": "pk = :partition AND begins_with(sk, :orders)",
                       "ExpressionAttributeValues": {":partition": {"S": "ORDERS#1"}, ":orders": {"S": "ORDER#"}}})
            ),
            [(Access::Read, "ORDERS#*".to_owned())]
        );
        assert!(kinds("Query", json!({"IndexName": "live_users"})).is_empty());
        assert_eq!(
            kinds(
                "BatchWriteItem",
                json!({"RequestItems": {"t": [
                    {"DeleteRequest": {"Key": {"pk": {"S": "OUTBOX#1"}, "sk": {"S": "EVENT"}}}},
                    {"PutRequest": {"Item": {"pk": {"S": "OUTBOX#2"}}}}
                ]}})
            ),
            [(Access::Write, "OUTBOX#*".to_owned())]
        );
        assert_eq!(
            kinds(
                "TransactWriteItems",
                json!({"TransactItems": [
                    {"Put": {"Item": {"pk": {"S": "OUTBOX#9"}}}},
                    {"Update": {"Key": {"pk": {"S": "ADMINS"}}}},
                    {"Delete": {"Key": {"pk": {"S": "EMAIL#a@b.c"}}}},
                    {"ConditionCheck": {"Key": {"pk": {"S": "USER#1"}}}}
                ]})
            ),
            [
                (Access::Write, "ADMINS".to_owned()),
                (Access::Write, "EMAIL#*".to_owned()),
                (Access::Write, "OUTBOX#*".to_owned()),
                (Access::ConditionCheck, "USER#*".to_owned())
            ]
        );
        assert_eq!(kinds("Scan", json!({})), [(Access::Table, "*".to_owned())]);
    }
}
