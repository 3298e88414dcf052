//! The Users API end to end: HTTP through `cargo lambda watch` into the functions, DynamoDB
//! Local and the local SES, checked against the contract in API.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{Api, mailbox_for, unique_email};

fn id_of(user: &Value) -> String {
    user["id"].as_str().expect("a user has an id").to_owned()
}

async fn deleted_user(api: &Api) -> String {
    let id = id_of(&api.create_user(&unique_email("gone"), "Gone").await);
    assert_eq!(api.delete(&format!("/users/{id}")).await.status, 204);
    id
}

const UNKNOWN_ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";
const MALFORMED_IDS: [&str; 3] = ["nope", "01890A5D-AC96-774B-BCCE-B302099A8057", "42"];

// ---- POST /users ---------------------------------------------------------------------------

#[tokio::test]
async fn registering_returns_the_trimmed_active_user_with_its_location_and_etag() {
    let api = Api::default();
    let email = unique_email("ada");
    let reply = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": format!("  {email} "), "name": " Ada Lovelace "}),
        )
        .await;
    let user = reply.expect_user(201);

    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["name"], "Ada Lovelace");
    assert_eq!(user["status"], "active");
    assert_eq!(user["role"], "user");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["mfa_enabled"], false);
    assert_eq!(user["last_login"], Value::Null);
    let created_at = user["created_at"].as_str().unwrap();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 24,
        "{created_at}"
    );
    assert_eq!(
        reply.header("location"),
        Some(format!("/users/{}", id_of(user)).as_str())
    );
    assert_eq!(reply.header("etag"), Some("\"1\""));
}

#[tokio::test]
async fn a_new_user_gets_a_welcome_email_with_nothing_the_requester_chose() {
    let api = Api::default();
    let email = unique_email("welcome");
    // A name written to be read as a message by whoever owns the address.
    let lure = "Grace, your prize: https://evil.example/claim";
    api.create_user(&email, lure).await;

    let mail = mailbox_for(&email).await;
    assert_eq!(mail.len(), 1, "exactly one welcome email");
    assert!(mail[0]["subject"].as_str().unwrap().contains("Welcome"));
    let text = mail[0]["body"]["text"].as_str().unwrap();
    assert!(
        !text.contains("Grace") && !text.contains("evil.example"),
        "{text}"
    );
}

#[tokio::test]
async fn an_address_registered_in_another_case_is_a_409() {
    let api = Api::default();
    let email = unique_email("twin");
    api.create_user(&email, "First").await;
    let reply = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": email.to_uppercase(), "name": "Second"}),
        )
        .await;
    reply.expect_problem(409);
}

#[tokio::test]
async fn every_invalid_field_is_listed_in_one_422() {
    let api = Api::default();
    let reply = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": "not-an-address", "name": "Ada\u{7}", "role": "admin"}),
        )
        .await;
    let problem = reply.expect_problem(422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "name", "role"]);

    let missing = api.send_json(Method::POST, "/users", &json!({})).await;
    let fields: Vec<&str> = missing.expect_problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "name"]);
}

#[tokio::test]
async fn names_and_addresses_at_their_limits() {
    let api = Api::default();
    let too_long_name = "n".repeat(101);
    let reply = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": unique_email("long"), "name": too_long_name}),
        )
        .await;
    assert_eq!(reply.expect_problem(422)["errors"][0]["field"], "name");

    let longest_name = "é".repeat(100);
    api.create_user(&unique_email("longest"), &longest_name)
        .await;

    let long_address = format!("{}@example.com", "a".repeat(250));
    let reply = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": long_address, "name": "Long"}),
        )
        .await;
    assert_eq!(reply.expect_problem(422)["errors"][0]["field"], "email");
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_a_400() {
    let api = Api::default();
    let raw = |content_type: Option<&str>, body: &str| {
        let mut request = api.request(Method::POST, "/users").body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request
    };
    let valid = json!({"email": unique_email("x"), "name": "X"}).to_string();
    for (content_type, body) in [
        (Some("application/json"), "{\"email\": "),
        (Some("application/json"), "[1, 2]"),
        (Some("application/json"), "\"just a string\""),
        (Some("application/json"), ""),
        (None, valid.as_str()),
        (Some("text/plain"), valid.as_str()),
    ] {
        api.send(raw(content_type, body)).await.expect_problem(400);
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_a_413() {
    let api = Api::default();
    let body = json!({"email": unique_email("big"), "name": "x".repeat(70_000)});
    api.send_json(Method::POST, "/users", &body)
        .await
        .expect_problem(413);
}

// ---- GET /users/{id} -----------------------------------------------------------------------

#[tokio::test]
async fn an_active_user_can_be_read_with_its_etag() {
    let api = Api::default();
    let created = api.create_user(&unique_email("read"), "Reader").await;
    let reply = api.get(&format!("/users/{}", id_of(&created))).await;
    assert_eq!(reply.expect_user(200), &created);
    assert_eq!(reply.header("etag"), Some("\"1\""));
}

#[tokio::test]
async fn unknown_malformed_suspended_and_deleted_users_are_not_found() {
    let api = Api::default();
    let suspended = id_of(&api.create_user(&unique_email("susp"), "Suspended").await);
    api.post(&format!("/users/{suspended}/suspend"))
        .await
        .expect_user(200);
    let deleted = deleted_user(&api).await;

    for id in [UNKNOWN_ID, &suspended, &deleted]
        .into_iter()
        .chain(MALFORMED_IDS)
    {
        api.get(&format!("/users/{id}")).await.expect_problem(404);
    }
}

// ---- GET /users ----------------------------------------------------------------------------

/// Pages through a listing and returns every item, checking each page's bounds.
async fn list_all(api: &Api, query: &str, limit: usize) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!("/users?limit={limit}{query}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let reply = api.get(&path).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let page = reply.body["items"].as_array().unwrap();
        assert!(page.len() <= limit);
        items.extend(page.iter().cloned());
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("paging did not end");
}

#[tokio::test]
async fn paging_to_the_end_returns_every_user_once_newest_first_without_deleted_ones() {
    let api = Api::default();
    let mut mine = Vec::new();
    for n in 0..5 {
        mine.push(id_of(
            &api.create_user(&unique_email(&format!("page{n}")), "Pager")
                .await,
        ));
    }
    let gone = deleted_user(&api).await;

    let listed = list_all(&api, "", 2).await;
    let ids: Vec<String> = listed.iter().map(id_of).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "no user twice");
    let mut newest_first = ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first, "newest first");
    let positions: Vec<usize> = mine
        .iter()
        .map(|id| ids.iter().position(|listed| listed == id).expect("listed"))
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] > pair[1]));
    assert!(!ids.contains(&gone));
    assert!(listed.iter().all(|user| user["status"] != "deleted"));
}

#[tokio::test]
async fn the_status_filter_lists_only_that_status() {
    let api = Api::default();
    let suspended = id_of(&api.create_user(&unique_email("filter"), "Filtered").await);
    api.post(&format!("/users/{suspended}/suspend"))
        .await
        .expect_user(200);
    let gone = deleted_user(&api).await;

    let listed = list_all(&api, "&status=suspended", 100).await;
    assert!(listed.iter().all(|user| user["status"] == "suspended"));
    assert!(listed.iter().any(|user| id_of(user) == suspended));

    let deleted = list_all(&api, "&status=deleted", 100).await;
    assert!(deleted.iter().any(|user| id_of(user) == gone));
}

#[tokio::test]
async fn bad_listing_parameters_are_named_and_a_bad_cursor_is_a_400() {
    let api = Api::default();
    let problem = api.get("/users?status=gone&limit=101").await;
    let fields: Vec<&str> = problem.expect_problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["status", "limit"]);
    for limit in ["0", "-1", "abc", "1.5"] {
        api.get(&format!("/users?limit={limit}"))
            .await
            .expect_problem(422);
    }
    api.get("/users?cursor=not-a-cursor")
        .await
        .expect_problem(400);

    api.create_user(&unique_email("c1"), "C").await;
    api.create_user(&unique_email("c2"), "C").await;
    let first = api.get("/users?limit=1").await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    api.get(&format!("/users?limit=1&status=deleted&cursor={cursor}"))
        .await
        .expect_problem(400);
    assert_eq!(
        api.get(&format!("/users?limit=1&cursor={cursor}"))
            .await
            .status,
        200
    );
}

// ---- PUT /users/{id}/email -----------------------------------------------------------------

#[tokio::test]
async fn changing_the_email_frees_the_old_address_and_bumps_the_etag() {
    let api = Api::default();
    let (old, new) = (unique_email("old"), unique_email("new"));
    let id = id_of(&api.create_user(&old, "Mover").await);

    let reply = api
        .send_json(
            Method::PUT,
            &format!("/users/{id}/email"),
            &json!({"email": new}),
        )
        .await;
    assert_eq!(reply.expect_user(200)["email"], new.as_str());
    assert_eq!(reply.header("etag"), Some("\"2\""));

    api.create_user(&old, "Newcomer").await;
    let taken = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": new, "name": "Late"}),
        )
        .await;
    taken.expect_problem(409);
}

#[tokio::test]
async fn setting_the_same_email_again_is_a_no_op() {
    let api = Api::default();
    let email = unique_email("same");
    let id = id_of(&api.create_user(&email, "Same").await);
    let reply = api
        .send_json(
            Method::PUT,
            &format!("/users/{id}/email"),
            &json!({"email": email}),
        )
        .await;
    reply.expect_user(200);
    assert_eq!(reply.header("etag"), Some("\"1\""), "nothing was written");
}

#[tokio::test]
async fn an_address_held_by_another_user_is_a_409() {
    let api = Api::default();
    let theirs = unique_email("theirs");
    api.create_user(&theirs, "Owner").await;
    let id = id_of(&api.create_user(&unique_email("mine"), "Grabber").await);
    let body = json!({"email": theirs.to_uppercase()});
    api.send_json(Method::PUT, &format!("/users/{id}/email"), &body)
        .await
        .expect_problem(409);
}

#[tokio::test]
async fn if_match_guards_the_email_change() {
    let api = Api::default();
    let id = id_of(&api.create_user(&unique_email("guard"), "Guarded").await);
    let path = format!("/users/{id}/email");
    let change = |tag: &str| {
        api.request(Method::PUT, &path)
            .header("if-match", tag)
            .json(&json!({"email": unique_email("g")}))
    };

    api.send(change("\"7\"")).await.expect_problem(412);
    api.send(change("W/\"1\"")).await.expect_problem(412);
    let reply = api.send(change("\"1\"")).await;
    assert_eq!(reply.expect_user(200)["status"], "active");
    api.send(change("\"1\"")).await.expect_problem(412);
    assert_eq!(api.send(change("\"2\"")).await.status, 200);
    assert_eq!(api.send(change("*")).await.status, 200);
}

#[tokio::test]
async fn email_changes_for_missing_users_and_bad_bodies_fail_clearly() {
    let api = Api::default();
    let gone = deleted_user(&api).await;
    let body = json!({"email": unique_email("x")});
    for id in [UNKNOWN_ID, gone.as_str(), MALFORMED_IDS[0]] {
        api.send_json(Method::PUT, &format!("/users/{id}/email"), &body)
            .await
            .expect_problem(404);
    }
    let id = id_of(&api.create_user(&unique_email("bad"), "Bad").await);
    let path = format!("/users/{id}/email");
    let problem = api
        .send_json(Method::PUT, &path, &json!({"email": "nope", "name": "x"}))
        .await;
    assert_eq!(
        problem.expect_problem(422)["errors"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    api.send(api.request(Method::PUT, &path).body("{}"))
        .await
        .expect_problem(400);
}

#[tokio::test]
async fn every_mutation_honors_if_match() {
    let api = Api::default();
    let id = id_of(&api.create_user(&unique_email("pinned"), "Pinned").await);
    let pinned = |method: Method, action: &str, tag: &str| {
        api.request(method, &format!("/users/{id}{action}"))
            .header("if-match", tag)
    };
    for (method, action) in [
        (Method::POST, "/suspend"),
        (Method::POST, "/activate"),
        (Method::POST, "/logins"),
        (Method::DELETE, ""),
    ] {
        api.send(pinned(method.clone(), action, "\"99\""))
            .await
            .expect_problem(412);
    }
    assert_eq!(
        api.get(&format!("/users/{id}")).await.header("etag"),
        Some("\"1\""),
        "nothing changed"
    );

    assert_eq!(
        api.send(pinned(Method::POST, "/suspend", "\"1\""))
            .await
            .status,
        200
    );
    assert_eq!(
        api.send(pinned(Method::POST, "/activate", "\"2\""))
            .await
            .status,
        200
    );
    assert_eq!(
        api.send(pinned(Method::POST, "/logins", "\"3\""))
            .await
            .status,
        200
    );
    api.send(pinned(Method::DELETE, "", "\"3\""))
        .await
        .expect_problem(412);
    assert_eq!(
        api.send(pinned(Method::DELETE, "", "\"4\"")).await.status,
        204
    );
}

// ---- POST /users/{id}/suspend and /activate ------------------------------------------------

#[tokio::test]
async fn suspend_and_activate_are_idempotent() {
    let api = Api::default();
    let id = id_of(&api.create_user(&unique_email("toggle"), "Toggle").await);

    let suspended = api.post(&format!("/users/{id}/suspend")).await;
    assert_eq!(suspended.expect_user(200)["status"], "suspended");
    let again = api.post(&format!("/users/{id}/suspend")).await;
    assert_eq!(again.expect_user(200)["status"], "suspended");
    assert_eq!(again.header("etag"), suspended.header("etag"));

    let active = api.post(&format!("/users/{id}/activate")).await;
    assert_eq!(active.expect_user(200)["status"], "active");
    let again = api.post(&format!("/users/{id}/activate")).await;
    assert_eq!(again.header("etag"), active.header("etag"));
}

#[tokio::test]
async fn a_deleted_user_cannot_be_suspended_or_activated() {
    let api = Api::default();
    let gone = deleted_user(&api).await;
    api.post(&format!("/users/{gone}/suspend"))
        .await
        .expect_problem(409);
    api.post(&format!("/users/{gone}/activate"))
        .await
        .expect_problem(409);
    for action in ["suspend", "activate"] {
        api.post(&format!("/users/{UNKNOWN_ID}/{action}"))
            .await
            .expect_problem(404);
        api.post(&format!("/users/{}/{action}", MALFORMED_IDS[1]))
            .await
            .expect_problem(404);
    }
}

// ---- DELETE /users/{id} --------------------------------------------------------------------

#[tokio::test]
async fn deleting_keeps_the_record_and_releases_the_email() {
    let api = Api::default();
    let email = unique_email("leaver");
    let id = id_of(&api.create_user(&email, "Leaver").await);

    let reply = api.delete(&format!("/users/{id}")).await;
    assert_eq!((reply.status.as_u16(), &reply.body), (204, &Value::Null));
    api.delete(&format!("/users/{id}"))
        .await
        .expect_problem(404);
    api.delete(&format!("/users/{UNKNOWN_ID}"))
        .await
        .expect_problem(404);

    let deleted = list_all(&api, "&status=deleted", 100).await;
    let record = deleted
        .iter()
        .find(|user| id_of(user) == id)
        .expect("the record stays");
    assert_eq!(record["email"], email.as_str());
    let newcomer = api.create_user(&email, "Newcomer").await;
    assert_ne!(id_of(&newcomer), id);
}

// ---- POST /users/{id}/logins ---------------------------------------------------------------

#[tokio::test]
async fn a_login_is_recorded_for_an_active_user_only() {
    let api = Api::default();
    let id = id_of(&api.create_user(&unique_email("login"), "Logger").await);

    let reply = api.post(&format!("/users/{id}/logins")).await;
    let last_login = reply.expect_user(200)["last_login"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(last_login.ends_with('Z'));
    let read = api.get(&format!("/users/{id}")).await;
    assert_eq!(read.body["last_login"], last_login.as_str());

    api.post(&format!("/users/{id}/suspend"))
        .await
        .expect_user(200);
    api.post(&format!("/users/{id}/logins"))
        .await
        .expect_problem(403);
    api.delete(&format!("/users/{id}")).await;
    api.post(&format!("/users/{id}/logins"))
        .await
        .expect_problem(404);
    api.post(&format!("/users/{UNKNOWN_ID}/logins"))
        .await
        .expect_problem(404);
}

#[tokio::test]
async fn the_two_spellings_of_one_international_domain_are_one_address() {
    let api = Api::default();
    let local = format!("ida.{}", uuid::Uuid::new_v4().simple());
    let unicode = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": format!("{local}@bücher.example"), "name": "Ida"}),
        )
        .await;
    assert_eq!(
        unicode.expect_user(201)["email"],
        format!("{local}@xn--bcher-kva.example"),
        "stored in its ASCII form"
    );
    let punycode = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": format!("{local}@XN--BCHER-KVA.example"), "name": "Ida"}),
        )
        .await;
    punycode.expect_problem(409);
}

#[tokio::test]
async fn a_non_ascii_local_part_and_a_hidden_direction_override_are_refused_with_reasons() {
    let api = Api::default();
    let reply = api
        .send_json(
            Method::POST,
            "/users",
            &json!({"email": "jürgen@example.com", "name": "J\u{202E}nosrep"}),
        )
        .await;
    let problem = reply.expect_problem(422);
    let errors = problem["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{problem}");
    assert_eq!(errors[0]["field"], "email");
    assert!(errors[0]["message"].as_str().unwrap().contains("ASCII"));
    assert_eq!(errors[1]["field"], "name");
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .contains("bidirectional")
    );
}

#[tokio::test]
async fn an_admin_finds_a_user_by_address_in_any_case_or_spelling_but_no_deleted_one() {
    let api = Api::default();
    let local = format!("lookup.{}", uuid::Uuid::new_v4().simple());
    let created = api
        .create_user(&format!("{local}@bücher.example"), "Ida")
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let find = |address: String| {
        let api = &api;
        async move {
            let url = reqwest::Url::parse_with_params("http://api/users", [("email", address)]);
            api.get(&format!("/users?{}", url.unwrap().query().unwrap()))
                .await
        }
    };
    for spelling in [
        format!("{local}@bücher.example"),
        format!("{}@XN--BCHER-KVA.example", local.to_uppercase()),
    ] {
        let found = find(spelling).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(found.body["items"][0]["id"], id.as_str());
        assert_eq!(found.body["items"].as_array().unwrap().len(), 1);
        assert!(found.body["next_cursor"].is_null());
    }
    api.post(&format!("/users/{id}/suspend"))
        .await
        .expect_user(200);
    let suspended = find(format!("{local}@bücher.example")).await;
    assert_eq!(suspended.body["items"][0]["status"], "suspended");
    api.delete(&format!("/users/{id}")).await;
    let gone = find(format!("{local}@bücher.example")).await;
    assert_eq!(gone.body["items"], json!([]));

    api.get(&format!("/users?email={local}%40example.com&status=active"))
        .await
        .expect_problem(400);
    let malformed = api.get("/users?email=not-an-address").await;
    malformed.expect_problem(422);
    let user = service_tests::new_user_session("lookup-user").await;
    user.api()
        .get(&format!("/users?email={local}%40example.com"))
        .await
        .expect_problem(403);
}
