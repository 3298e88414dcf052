//! `functions/`, the local router in the root `Cargo.toml` and `template.yaml` must name the
//! same functions and routes, and the template's table must be the one the code creates.
//! A function added in one place and forgotten in another fails here, not in production.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use infrastructure::table;
use serde_yaml::Value as Yaml;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

type Route = (String, String, String); // (method, path, function)

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn template() -> Yaml {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn function_dirs() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.path().join("Cargo.toml").exists())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect()
}

fn router_routes() -> BTreeSet<Route> {
    let manifest: toml::Table = std::fs::read_to_string(root().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut routes = BTreeSet::new();
    for (path, entries) in router {
        for entry in entries
            .as_array()
            .expect("routes are lists of {method, function}")
        {
            routes.insert((
                entry["method"].as_str().unwrap().to_owned(),
                path.clone(),
                entry["function"].as_str().unwrap().to_owned(),
            ));
        }
    }
    routes
}

fn resources_of_type<'a>(template: &'a Yaml, kind: &str) -> Vec<(&'a str, &'a Yaml)> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .map(|(name, resource)| (name.as_str().unwrap(), resource))
        .collect()
}

fn template_routes(template: &Yaml) -> BTreeSet<Route> {
    let mut routes = BTreeSet::new();
    for (name, function) in resources_of_type(template, "AWS::Serverless::Function") {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} names no Binary"));
        let events = function["Properties"]["Events"].as_mapping().unwrap();
        for event in events.values().filter(|event| event["Type"] == "HttpApi") {
            let properties = &event["Properties"];
            routes.insert((
                properties["Method"].as_str().unwrap().to_uppercase(),
                properties["Path"].as_str().unwrap().to_owned(),
                binary.to_owned(),
            ));
        }
    }
    routes
}

fn functions_of(routes: &BTreeSet<Route>) -> BTreeSet<String> {
    routes
        .iter()
        .map(|(_, _, function)| function.clone())
        .collect()
}

#[test]
fn every_function_directory_is_routed_locally_and_deployed() {
    let dirs = function_dirs();
    assert!(!dirs.is_empty());
    assert_eq!(
        functions_of(&router_routes()),
        dirs,
        "router in Cargo.toml vs functions/"
    );
    assert_eq!(
        functions_of(&template_routes(&template())),
        dirs,
        "template.yaml vs functions/"
    );
}

#[test]
fn the_router_and_the_template_serve_the_same_routes_with_the_same_functions() {
    assert_eq!(router_routes(), template_routes(&template()));
}

#[test]
fn the_template_table_has_the_keys_and_indexes_the_code_uses() {
    let template = template();
    let tables = resources_of_type(&template, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table");
    let properties = &tables[0].1["Properties"];
    let keys = |schema: &Yaml| -> Vec<(String, String)> {
        schema
            .as_sequence()
            .unwrap()
            .iter()
            .map(|key| {
                (
                    key["AttributeName"].as_str().unwrap().to_owned(),
                    key["KeyType"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let pair = |hash: &str, range: &str| {
        vec![
            (hash.to_owned(), "HASH".to_owned()),
            (range.to_owned(), "RANGE".to_owned()),
        ]
    };

    assert_eq!(
        keys(&properties["KeySchema"]),
        pair(table::PARTITION_KEY, table::SORT_KEY)
    );
    let indexes: Vec<(String, Vec<(String, String)>)> = properties["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|index| {
            (
                index["IndexName"].as_str().unwrap().to_owned(),
                keys(&index["KeySchema"]),
            )
        })
        .collect();
    let expected: Vec<(String, Vec<(String, String)>)> = table::INDEXES
        .iter()
        .map(|index| {
            (
                index.name.to_owned(),
                pair(index.partition_key, index.sort_key),
            )
        })
        .collect();
    assert_eq!(indexes, expected);
    assert_eq!(properties["BillingMode"], "PAY_PER_REQUEST");
}

#[test]
fn read_only_functions_get_no_write_action_and_nothing_is_granted_on_everything() {
    let template = template();
    for (name, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let method = function["Properties"]["Events"]["Http"]["Properties"]["Method"]
            .as_str()
            .unwrap();
        for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
            let statements = policy["Statement"].as_sequence().unwrap_or_else(|| {
                panic!("{name}: only inline statements, no managed CRUD policies")
            });
            for statement in statements {
                let resources = match &statement["Resource"] {
                    Yaml::Sequence(list) => list.clone(),
                    single => vec![single.clone()],
                };
                assert!(
                    resources.iter().all(|r| r.as_str() != Some("*")),
                    "{name} grants on *"
                );
                let actions = match &statement["Action"] {
                    Yaml::Sequence(list) => list
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect(),
                    single => vec![single.as_str().unwrap().to_owned()],
                };
                assert!(
                    actions.iter().all(|action| !action.contains('*')),
                    "{name}: {actions:?}"
                );
                if method == "GET" {
                    let writes = [
                        "PutItem",
                        "UpdateItem",
                        "DeleteItem",
                        "BatchWriteItem",
                        "SendEmail",
                    ];
                    assert!(
                        actions
                            .iter()
                            .all(|action| !writes.iter().any(|w| action.ends_with(w))),
                        "{name} is read-only but may {actions:?}"
                    );
                }
            }
        }
    }
}
