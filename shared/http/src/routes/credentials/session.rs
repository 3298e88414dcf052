//! `POST /token/refresh` and `POST /logout`: a refresh token for the next one, or the end of
//! its family.

use crate::request::{JsonObject, verbatim};
use crate::response::{self, SessionBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::credentials::{LogoutRequest, RefreshRequest};
use lambda_http::Request;
use utoipa::ToSchema;

/// `POST /token/refresh` and `POST /logout`
#[derive(ToSchema)]
#[schema(example = json!({"refresh_token": "cmVmcmVzaC10b2tlbi1mcm9tLXRoZS1sb2dpbi1hbnN3ZXI"}))]
#[serde(deny_unknown_fields)]
pub struct RefreshTokenRequest {
    /// The `refresh_token` of the last login or refresh.
    refresh_token: String,
}

impl RefreshTokenRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let refresh_token = body.string("refresh_token", verbatim);
        let refresh_token = body.finish(refresh_token)?;
        Ok(Self { refresh_token })
    }
}

#[utoipa::path(post, path = "/token/refresh", tag = "Credentials",
    request_body(content = RefreshTokenRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A new access token and the next refresh token; the one sent is used up.", body = SessionBody,
            headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, response = crate::openapi::InvalidRefreshToken),
    ))]
pub async fn refresh_token(
    use_case: &impl UseCase<RefreshRequest>,
    request: Request,
) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let RefreshTokenRequest { refresh_token } = RefreshTokenRequest::read(&request)?;
    let session = use_case
        .execute(&caller, RefreshRequest { refresh_token })
        .await?;
    Ok(response::session(&session))
}

#[utoipa::path(post, path = "/logout", tag = "Credentials",
    request_body(content = RefreshTokenRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "The token's family is revoked; an unknown token is fine too."),
    ))]
pub async fn logout(use_case: &impl UseCase<LogoutRequest>, request: Request) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let RefreshTokenRequest { refresh_token } = RefreshTokenRequest::read(&request)?;
    use_case
        .execute(&caller, LogoutRequest { refresh_token })
        .await?;
    Ok(response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::INVALID_REFRESH_TOKEN_DETAIL;
    use crate::testing::{Answer, TestRequest, assert_body_rows};
    use application::credentials::{Logout, RefreshSession, Sessions};
    use application::fakes::{
        FakeAccessTokens, FakeTokens, FixedClock, InMemorySessions, InMemoryUsers, user_with_email,
    };
    use application::ports::{Clock, RefreshTokenRecord, ResetTokens};
    use domain::User;
    use serde_json::json;

    type Refresh =
        RefreshSession<InMemoryUsers, FixedClock, FakeAccessTokens, InMemorySessions, FakeTokens>;

    /// Ada, with one fresh refresh token.
    async fn world() -> (Refresh, InMemorySessions, String, User) {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let store = InMemorySessions::beside(&users);
        let issued = FakeTokens.issue().unwrap();
        let now = FixedClock::default().now();
        let record = RefreshTokenRecord {
            hash: issued.hash,
            user_id: ada.id(),
            proof: domain::SessionProof {
                session: domain::SessionId::start(now),
                auth_time: now,
                methods: domain::AuthMethods::Password,
            },
            used: false,
        };
        store.add(&record);
        let sessions = Sessions::new(FakeAccessTokens, store.clone(), FakeTokens);
        let refresh = RefreshSession::new(users, FixedClock::default(), sessions);
        (refresh, store, issued.token, ada)
    }

    fn post(path: &str, token: &str) -> TestRequest {
        TestRequest::new("POST", path).json(json!({ "refresh_token": token }))
    }

    #[tokio::test]
    async fn a_refresh_is_a_200_with_new_tokens_and_a_replay_a_401() {
        let (refresh, _, token, ada) = world().await;
        let first =
            Answer::of(refresh_token(&refresh, post("/token/refresh", &token).build()).await);
        assert_eq!(first.status, 200);
        assert_eq!(first.body["user"]["id"], ada.id().to_string());
        assert_ne!(first.body["refresh_token"], token.as_str());
        assert_eq!(first.header("cache-control"), Some("no-store"));
        let replay =
            Answer::of(refresh_token(&refresh, post("/token/refresh", &token).build()).await);
        assert_eq!(replay.problem(401), INVALID_REFRESH_TOKEN_DETAIL);
    }

    #[tokio::test]
    async fn a_refresh_ignores_the_authorization_header_and_checks_its_body() {
        let (refresh, _, token, _) = world().await;
        let with_stale_access =
            post("/token/refresh", &token).by(crate::auth::Authentication::Refused);
        let answer = Answer::of(refresh_token(&refresh, with_stale_access.build()).await);
        assert_eq!(answer.status, 200);
        let handle = |request| refresh_token(&refresh, request);
        assert_body_rows(
            || TestRequest::new("POST", "/token/refresh"),
            handle,
            &["refresh_token"],
        )
        .await;
    }

    #[tokio::test]
    async fn logout_is_a_204_and_ends_the_family_and_an_unknown_token_is_a_204_too() {
        let (refresh, store, token, _) = world().await;
        let logout_case = Logout::new(store, FakeTokens);
        let answer = Answer::of(logout(&logout_case, post("/logout", &token).build()).await);
        assert_eq!(answer.status, 204);
        let after =
            Answer::of(refresh_token(&refresh, post("/token/refresh", &token).build()).await);
        after.problem(401);
        let unknown = Answer::of(logout(&logout_case, post("/logout", "made-up").build()).await);
        assert_eq!(unknown.status, 204);
        let handle = |request| logout(&logout_case, request);
        assert_body_rows(
            || TestRequest::new("POST", "/logout"),
            handle,
            &["refresh_token"],
        )
        .await;
    }
}
