//! Races through the whole stack: many requests at once must leave exactly the state one of
//! them alone would have.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;
use service_tests::{Api, cold_starts_of, unique_email};

#[tokio::test]
async fn forty_registrations_of_one_address_give_one_201_and_39_409s() {
    let api = Api::default();
    let email = unique_email("race");
    let attempts = (0..40).map(|n| {
        let body = json!({"email": if n % 2 == 0 { email.clone() } else { email.to_uppercase() }, "name": format!("Racer {n}")});
        let api = api.clone();
        async move { api.send_json(Method::POST, "/users", &body).await }
    });
    let replies = join_all(attempts).await;
    // The race ran through several instances at once, as on Lambda, not one after another.
    assert!(
        cold_starts_of("create-user") > 1,
        "one instance served every registration: run the emulator with --concurrency above 1"
    );
    let created: Vec<_> = replies.iter().filter(|reply| reply.status == 201).collect();
    assert_eq!(created.len(), 1);
    assert_eq!(
        replies.iter().filter(|reply| reply.status == 409).count(),
        39
    );

    let winner = created[0].body["id"].as_str().unwrap();
    let (mut holders, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/users?limit=100&cursor={cursor}"),
            None => "/users?limit=100".to_owned(),
        };
        let page = api.get(&path).await;
        for user in page.body["items"].as_array().unwrap() {
            if user["email"].as_str().unwrap().eq_ignore_ascii_case(&email) {
                holders.push(user["id"].as_str().unwrap().to_owned());
            }
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(holders, [winner], "exactly one user holds the address");
    // The claim is the winner's: the address is still taken by it, in any case.
    let again = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": email, "name": "Late"}),
        )
        .await;
    again.expect_problem(409);
}

#[tokio::test]
async fn ten_updates_with_one_if_match_give_exactly_one_200() {
    let api = Api::default();
    let id = api.create_user(&unique_email("pin"), "Pinned").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = (0..10).map(|n| {
        let request = api
            .request(Method::PUT, &format!("/users/{id}/email"))
            .header("if-match", "\"1\"")
            .json(&json!({"email": unique_email(&format!("pin{n}"))}));
        let api = api.clone();
        async move { api.send(request).await }
    });
    let replies = join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|reply| reply.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|status| **status == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|status| **status == 412).count(),
        9,
        "{statuses:?}"
    );
    let winner = replies.iter().find(|reply| reply.status == 200).unwrap();
    let now = api.get(&format!("/users/{id}")).await;
    assert_eq!(now.body["email"], winner.body["email"]);
    assert_eq!(now.header("etag"), Some("\"2\""));
}
