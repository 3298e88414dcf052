//! Identity end to end: the service issues the tokens, and every route knows its caller and
//! refuses what that caller may not do (API.md, "Identity: tokens, roles and who may call
//! what"). Against the local stack `make test` starts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use application::ports::AccessTokenVerifier;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{Role, SessionId, Timestamp, UserId};
use infrastructure::{JwtVerifier, TokenAudience};
use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{
    Api, Reply, Session, local_admin, login, minted, new_admin_session, new_user_session, refresh,
    set_role, unique_email,
};

fn audience() -> TokenAudience {
    service_tests::token_audience()
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn login_answers_a_bearer_session_whose_token_the_published_keys_verify() {
    let session = new_user_session("walk").await;
    let reply = login(&session.email, "correct horse battery").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = &reply.body;
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_i64()),
        (Some("Bearer"), Some(900))
    );
    assert_eq!(body["user"]["id"], session.id.as_str());
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["user"]["email_verified"], true);

    let access = body["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(access.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("EdDSA"), Some("at+jwt"))
    );
    let claims = payload(access);
    assert_eq!(claims["sub"], session.id.as_str());
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["iss"], audience().issuer.as_str());
    assert_eq!(claims["aud"], audience().audience.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].is_string());
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(SessionId::parse(claims["sid"].as_str().unwrap()).is_ok());
    assert!(
        (claims["auth_time"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()).abs() <= 1,
        "signed in just now"
    );

    let keys = Api::anonymous().get("/.well-known/jwks.json").await;
    assert_eq!(keys.status, 200);
    let key = &keys.body["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"), Some("sig"))
    );
    assert_eq!(key["kid"], header["kid"]);
    assert!(key.get("d").is_none(), "no private part is published");
    let verifier = JwtVerifier::new(&keys.body.to_string(), audience()).unwrap();
    let verified = verifier.verify(access, Timestamp::now()).unwrap();
    assert_eq!(verified.user_id.to_string(), session.id);

    let own = session.api().get(&format!("/users/{}", session.id)).await;
    assert_eq!(own.status, 200, "the token opens the user's own routes");
}

/// Every protected route, with a request that would succeed for its rightful caller.
fn protected_routes(id: &str) -> Vec<(Method, String, Option<Value>, bool)> {
    let order = json!({"items": [{"sku": "A", "quantity": 1, "unit_price": {"amount": "1", "currency": "JPY"}}]});
    vec![
        (Method::GET, format!("/users/{id}"), None, false),
        (
            Method::PUT,
            format!("/users/{id}/email"),
            Some(json!({"email": unique_email("moved")})),
            false,
        ),
        (
            Method::POST,
            format!("/users/{id}/orders"),
            Some(order),
            false,
        ),
        (Method::GET, format!("/users/{id}/orders"), None, false),
        (
            Method::GET,
            format!("/users/{id}/orders/{}", UserId::generate()),
            None,
            false,
        ),
        (Method::DELETE, format!("/users/{id}"), None, false),
        (Method::GET, format!("/users/{id}/sessions"), None, false),
        (
            Method::DELETE,
            format!("/users/{id}/sessions/{}", UserId::generate()),
            None,
            false,
        ),
        (Method::DELETE, format!("/users/{id}/sessions"), None, false),
        (
            Method::PUT,
            format!("/users/{id}/password"),
            Some(
                json!({"current_password": "correct horse battery", "new_password": "another good one"}),
            ),
            false,
        ),
        (Method::GET, "/users".to_owned(), None, true),
        (Method::POST, format!("/users/{id}/suspend"), None, true),
        (Method::POST, format!("/users/{id}/activate"), None, true),
        (Method::POST, format!("/users/{id}/logins"), None, true),
        (
            Method::PUT,
            format!("/users/{id}/role"),
            Some(json!({"role": "admin"})),
            true,
        ),
    ]
}

async fn call(api: &Api, method: &Method, path: &str, body: &Option<Value>) -> Reply {
    let request = api.request(method.clone(), path);
    let request = match body {
        Some(body) => request.json(body),
        None => request,
    };
    api.send(request).await
}

#[tokio::test]
async fn every_protected_route_refuses_the_anonymous_a_tampered_token_and_another_user() {
    let owner = new_user_session("owner").await;
    let other = new_user_session("other").await;
    let before = Api::default().get(&format!("/users/{}", owner.id)).await;
    let mut tampered = owner.access.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });

    for (method, path, body, admin_only) in protected_routes(&owner.id) {
        let anonymous = call(&Api::anonymous(), &method, &path, &body).await;
        anonymous.expect_problem(401);
        assert_eq!(
            anonymous.header("www-authenticate"),
            Some("Bearer"),
            "{method} {path}"
        );

        let forged = call(&Api::with_token(&tampered), &method, &path, &body).await;
        forged.expect_problem(401);
        assert_eq!(
            forged.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#),
            "{method} {path}"
        );

        let stranger = call(&other.api(), &method, &path, &body).await;
        if admin_only {
            stranger.expect_problem(403);
            call(&owner.api(), &method, &path, &body)
                .await
                .expect_problem(403);
        } else {
            let detail = stranger.expect_problem(404)["detail"].clone();
            assert_eq!(
                detail, "no user with this id",
                "{method} {path}: like an unknown id"
            );
        }
    }
    let after = Api::default().get(&format!("/users/{}", owner.id)).await;
    assert_eq!(after.body, before.body, "nothing changed");
    assert_eq!(after.header("etag"), before.header("etag"));
}

#[tokio::test]
async fn a_user_acts_on_itself_and_an_admin_on_anyone() {
    let ada = new_user_session("self").await;
    let me = ada.api();
    assert_eq!(
        me.get(&format!("/users/{}/orders", ada.id)).await.status,
        200
    );
    let order = json!({"items": [{"sku": "A", "quantity": 1, "unit_price": {"amount": "1", "currency": "JPY"}}]});
    let placed = me
        .send_json(Method::POST, &format!("/users/{}/orders", ada.id), &order)
        .await;
    assert_eq!(placed.status, 201);
    let order_id = placed.body["id"].as_str().unwrap();
    let admin = Api::default();
    assert_eq!(
        admin
            .get(&format!("/users/{}/orders/{order_id}", ada.id))
            .await
            .status,
        200
    );
    assert_eq!(admin.get("/users?limit=1").await.status, 200);
    assert_eq!(
        me.delete(&format!("/users/{}", ada.id)).await.status,
        204,
        "users may leave"
    );
}

#[tokio::test]
async fn expired_foreign_audience_and_unsigned_tokens_are_refused() {
    let session = new_user_session("mint").await;
    let path = format!("/users/{}", session.id);
    let long_ago = Timestamp::from_millis(Timestamp::now().as_millis() - 3_600_000).unwrap();
    let expired = minted(&session, Role::User, long_ago, long_ago, audience());
    let elsewhere = TokenAudience {
        audience: "another-service".to_owned(),
        ..audience()
    };
    let foreign = minted(
        &session,
        Role::User,
        Timestamp::now(),
        Timestamp::now(),
        elsewhere,
    );
    let fresh = minted(
        &session,
        Role::User,
        Timestamp::now(),
        Timestamp::now(),
        audience(),
    );
    let claims = fresh.split('.').nth(1).unwrap();
    let none = format!(
        "{}.{claims}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"local"}"#)
    );
    for token in [expired, foreign, none, "not.a.token".to_owned()] {
        let reply = Api::with_token(&token).get(&path).await;
        reply.expect_problem(401);
        assert_eq!(
            reply.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
    }
    assert_eq!(
        Api::with_token(&fresh).get(&path).await.status,
        200,
        "the minting is sound"
    );
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_its_family() {
    let session = new_user_session("rotate").await;
    let renewed = refresh(&session.refresh).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let next = renewed.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, session.refresh);
    let access = renewed.body["access_token"].as_str().unwrap();
    assert_eq!(
        Api::with_token(access)
            .get(&format!("/users/{}", session.id))
            .await
            .status,
        200
    );

    refresh(&session.refresh).await.expect_problem(401);
    refresh(&next).await.expect_problem(401);
    refresh("made-up").await.expect_problem(401);
}

#[tokio::test]
async fn logout_ends_the_family_and_an_unknown_token_is_fine() {
    let session = new_user_session("logout").await;
    let anyone = Api::anonymous();
    let reply = anyone
        .send_json(
            Method::POST,
            "/logout",
            &json!({"refresh_token": session.refresh}),
        )
        .await;
    assert_eq!(reply.status, 204);
    refresh(&session.refresh).await.expect_problem(401);
    let unknown = anyone
        .send_json(
            Method::POST,
            "/logout",
            &json!({"refresh_token": "made-up"}),
        )
        .await;
    assert_eq!(unknown.status, 204);
}

/// The `sid` of an access token.
fn sid_of(access: &str) -> String {
    payload(access)["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_user_sees_where_it_is_signed_in_and_ends_one_session_or_all() {
    let here = new_user_session("sessions").await;
    let agent = "e2e-agent/1.0 ".to_owned() + &"x".repeat(300);
    let second = Api::anonymous()
        .send(
            Api::anonymous()
                .request(Method::POST, "/login")
                .header("user-agent", &agent)
                .json(&json!({"email": here.email, "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(second.status, 200);
    let elsewhere = Session {
        access: second.body["access_token"].as_str().unwrap().to_owned(),
        refresh: second.body["refresh_token"].as_str().unwrap().to_owned(),
        id: here.id.clone(),
        email: here.email.clone(),
    };
    let sessions = format!("/users/{}/sessions", here.id);
    let listed = here.api().get(&sessions).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let (newest, oldest) = (&items[0], &items[1]);
    assert_eq!(
        newest["id"],
        sid_of(&elsewhere.access).as_str(),
        "newest first"
    );
    assert_eq!(oldest["id"], sid_of(&here.access).as_str());
    assert_eq!(
        (newest["current"].as_bool(), oldest["current"].as_bool()),
        (Some(false), Some(true))
    );
    assert_eq!(newest["amr"], json!(["pwd"]));
    assert_eq!(
        newest["user_agent"].as_str().unwrap().chars().count(),
        256,
        "the user agent, cut"
    );
    assert!(
        newest["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("e2e-agent/1.0")
    );
    assert!(newest["ip"].is_string());
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(newest[field].is_string(), "{field}");
    }
    let stranger = new_user_session("sessions-stranger").await;
    stranger.api().get(&sessions).await.expect_problem(404);

    let one = format!("{sessions}/{}", sid_of(&elsewhere.access));
    assert_eq!(here.api().delete(&one).await.status, 204);
    elsewhere
        .api()
        .get(&format!("/users/{}", here.id))
        .await
        .expect_problem(401);
    refresh(&elsewhere.refresh).await.expect_problem(401);
    here.api().delete(&one).await.expect_problem(404);
    let listed = here.api().get(&sessions).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    assert_eq!(here.api().delete(&sessions).await.status, 204);
    here.api()
        .get(&format!("/users/{}", here.id))
        .await
        .expect_problem(401);
    refresh(&here.refresh).await.expect_problem(401);
    let again = login(&here.email, "correct horse battery").await;
    let fresh = Api::with_token(again.body["access_token"].as_str().unwrap());
    let listed = fresh.get(&sessions).await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "only the new one"
    );
}

#[tokio::test]
async fn a_role_change_ends_the_users_sessions_and_the_next_login_carries_the_role() {
    let ada = new_user_session("promoted").await;
    set_role(&Api::default(), &ada.id, "admin")
        .await
        .expect_user(200);
    ada.api().get("/users").await.expect_problem(403);
    let own = ada.api().get(&format!("/users/{}", ada.id)).await;
    own.expect_problem(401);
    assert_eq!(
        own.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#),
        "the session ended with the role change"
    );
    refresh(&ada.refresh).await.expect_problem(401);

    let reply = login(&ada.email, "correct horse battery").await;
    let access = reply.body["access_token"].as_str().unwrap();
    assert_eq!(payload(access)["role"], "admin");
    let promoted = Api::with_token(access);
    assert_eq!(promoted.get("/users?limit=1").await.status, 200);
    set_role(&promoted, &ada.id, "user")
        .await
        .expect_problem(409);
}

#[tokio::test]
async fn a_suspended_or_demoted_admins_still_valid_token_is_refused_at_once() {
    let admin = Api::default();
    let (suspended, demoted) = tokio::join!(
        new_admin_session(&admin, "suspended-admin"),
        new_admin_session(&admin, "demoted-admin")
    );
    let victim = new_user_session("victim").await;
    let suspend = format!("/users/{}/suspend", suspended.id);
    let (suspension, demotion) =
        tokio::join!(admin.post(&suspend), set_role(&admin, &demoted.id, "user"),);
    suspension.expect_user(200);
    demotion.expect_user(200);
    for former in [&suspended, &demoted] {
        let api = former.api();
        let comeback = api.post(&format!("/users/{}/activate", former.id)).await;
        comeback.expect_problem(401);
        assert_eq!(
            comeback.header("www-authenticate"),
            Some(r#"Bearer error="invalid_token""#)
        );
        api.get("/users").await.expect_problem(401);
        set_role(&api, &victim.id, "admin")
            .await
            .expect_problem(401);
        api.get(&format!("/users/{}", victim.id))
            .await
            .expect_problem(401);
    }
    let untouched = admin.get(&format!("/users/{}", victim.id)).await;
    assert_eq!(untouched.expect_user(200)["role"], "user");
    let suspended_now = admin.get("/users?status=suspended&limit=100").await;
    assert!(
        suspended_now.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|user| user["id"] == suspended.id.as_str()),
        "the suspended admin did not come back"
    );
}

#[tokio::test]
async fn a_logged_out_sessions_access_token_is_refused_by_self_routes_at_once() {
    let session = new_user_session("logged-out").await;
    let own = format!("/users/{}", session.id);
    assert_eq!(session.api().get(&own).await.status, 200);
    let reply = Api::anonymous()
        .send_json(
            Method::POST,
            "/logout",
            &json!({"refresh_token": session.refresh}),
        )
        .await;
    assert_eq!(reply.status, 204);
    session.api().get(&own).await.expect_problem(401);
    session
        .api()
        .get(&format!("{own}/orders"))
        .await
        .expect_problem(401);
}

#[tokio::test]
async fn the_local_admin_exists_and_is_an_active_admin() {
    let (email, password) = local_admin();
    let reply = login(&email, &password).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["user"]["role"], "admin");
    assert_eq!(reply.body["user"]["status"], "active");
}
