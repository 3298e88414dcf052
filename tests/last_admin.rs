//! "The service always keeps an active admin" (API.md, "Roles") end to end: the last active
//! admin cannot be suspended, deleted or demoted, also when two admins race to take each
//! other away. A test binary of its own: it makes the local admin the only active one, so no
//! other test may add or remove admins meanwhile (cargo runs test binaries one at a time).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use service_tests::{Api, Reply, Session, local_admin, login, new_admin_session, set_role};

/// The local admin's id and a fresh session of it.
async fn local_admin_session() -> (String, Api) {
    let (email, password) = local_admin();
    let reply = login(&email, &password).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = reply.body["user"]["id"].as_str().unwrap().to_owned();
    (
        id,
        Api::with_token(reply.body["access_token"].as_str().unwrap()),
    )
}

/// Demotes every active admin but `keep`, page by page.
async fn demote_every_admin_but(admin: &Api, keep: &str) {
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/users?status=active&limit=100&cursor={cursor}"),
            None => "/users?status=active&limit=100".to_owned(),
        };
        let page = admin.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for user in page.body["items"].as_array().unwrap() {
            let id = user["id"].as_str().unwrap();
            if user["role"] == "admin" && id != keep {
                set_role(admin, id, "user").await.expect_user(200);
            }
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return,
        }
    }
}

fn is_last_admin_refusal(reply: &Reply) -> bool {
    reply.status == 409 && reply.body["type"] == "/problems/last-admin"
}

/// Of two racing requests that would each take the other's admin away, exactly one works;
/// the other is refused as the last admin's (409), or, when it came second, as a token whose
/// account just lost its power (401).
fn assert_one_of_two(one: &Reply, other: &Reply) {
    let done = [one, other]
        .iter()
        .filter(|reply| reply.status == 200)
        .count();
    assert_eq!(done, 1, "{one:?} / {other:?}");
    let refused = [one, other]
        .iter()
        .filter(|reply| is_last_admin_refusal(reply) || reply.status == 401)
        .count();
    assert_eq!(refused, 1, "{one:?} / {other:?}");
}

/// Puts the local admin back as the one active admin, whoever won: it or `rival`.
async fn restore(local_id: &str, rival: &Session) {
    let (email, password) = local_admin();
    let reply = login(&email, &password).await;
    if reply.status != 200 || reply.body["user"]["role"] != "admin" {
        let rival = rival.api();
        let activated = rival.post(&format!("/users/{local_id}/activate")).await;
        activated.expect_user(200);
        set_role(&rival, local_id, "admin").await.expect_user(200);
    }
    let (_, local) = local_admin_session().await;
    demote_every_admin_but(&local, local_id).await;
}

#[tokio::test]
async fn the_last_active_admin_stays_whatever_is_asked_and_however_it_races() {
    let (local_id, local) = local_admin_session().await;
    demote_every_admin_but(&local, &local_id).await;

    let suspend = local.post(&format!("/users/{local_id}/suspend")).await;
    assert!(is_last_admin_refusal(&suspend), "{suspend:?}");
    let delete = local.delete(&format!("/users/{local_id}")).await;
    assert!(is_last_admin_refusal(&delete), "{delete:?}");
    assert_eq!(
        local
            .get(&format!("/users/{local_id}"))
            .await
            .expect_user(200)["role"],
        "admin",
        "still there, still an admin"
    );

    // Two admins suspend each other at once.
    let rival = new_admin_session(&local, "rival-suspender").await;
    let (local_path, rival_path) = (
        format!("/users/{local_id}/suspend"),
        format!("/users/{}/suspend", rival.id),
    );
    let rival_api = rival.api();
    let (one, other) = tokio::join!(local.post(&rival_path), rival_api.post(&local_path));
    assert_one_of_two(&one, &other);
    restore(&local_id, &rival).await;

    // Two admins demote each other at once.
    let (_, local) = local_admin_session().await;
    let rival = new_admin_session(&local, "rival-demoter").await;
    let rival_api = rival.api();
    let (one, other) = tokio::join!(
        set_role(&local, &rival.id, "user"),
        set_role(&rival_api, &local_id, "user"),
    );
    assert_one_of_two(&one, &other);
    restore(&local_id, &rival).await;

    let (_, local) = local_admin_session().await;
    let me = local.get(&format!("/users/{local_id}")).await;
    assert_eq!(me.expect_user(200)["role"], "admin");
}
