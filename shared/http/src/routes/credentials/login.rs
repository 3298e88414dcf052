//! `POST /login`: checks a password and records the login.

use crate::openapi::{Conflict, Forbidden, TooManyAttempts, Unauthorized};
use crate::request::{JsonObject, session_origin, verbatim};
use crate::response::{self, SessionBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::credentials::LoginRequest as LoginCommand;
use domain::Email;
use lambda_http::Request;
use utoipa::ToSchema;

/// `POST /login`
#[derive(ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery"}))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(value_type = String, format = "email", max_length = 254)]
    email: Email,
    #[schema(format = Password)]
    password: String,
}

impl LoginRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let email = body.string("email", Email::parse);
        let password = body.string("password", verbatim);
        let (email, password) = body.finish(email.zip(password))?;
        Ok(Self { email, password })
    }
}

#[utoipa::path(post, path = "/login", tag = "Credentials",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "A session: an access token for 15 minutes, a refresh token, and the user with `last_login` set.", body = SessionBody,
            headers(("ETag" = String, description = "The user's version"), ("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 429, response = TooManyAttempts),
        ))]
pub async fn login(use_case: &impl UseCase<LoginCommand>, request: Request) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let LoginRequest { email, password } = LoginRequest::read(&request)?;
    let origin = session_origin(&request);
    let command = LoginCommand {
        email,
        password,
        origin,
    };
    let session = use_case.execute(&caller, command).await?;
    Ok(response::session(&session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::INVALID_CREDENTIALS_DETAIL;
    use crate::testing::{Answer, TestRequest, assert_body_rows};
    use application::credentials::{Login, Sessions};
    use application::fakes::{
        FakeAccessTokens, FakeHasher, FakeTokens, FixedClock, InMemoryCredentials,
        InMemoryLoginStore, InMemorySessions, InMemoryUsers, StoreHealth, user_with_email,
    };
    use domain::PasswordHash;
    use serde_json::json;

    type LogIn = application::fakes::InMemoryLogin;

    /// Ada, active, and Grace, suspended, both with the password "correct horse battery".
    fn world(users: InMemoryUsers) -> LogIn {
        let credentials = InMemoryCredentials::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let mut grace = user_with_email("grace@example.com");
        grace.suspend().unwrap();
        let grace = users.add(grace);
        for id in [ada.id(), grace.id()] {
            credentials.set_password(id, PasswordHash::new("fake:correct horse battery"));
        }
        let sessions = InMemorySessions::beside(&users);
        Login::new(
            InMemoryLoginStore::new(&users, &credentials, &sessions),
            FakeHasher::default(),
            FixedClock::default(),
            Sessions::new(FakeAccessTokens, sessions, FakeTokens),
        )
    }

    fn post() -> TestRequest {
        TestRequest::new("POST", "/login")
    }

    async fn log_in(use_case: &LogIn, email: &str, password: &str) -> Answer {
        let request = post()
            .json(json!({"email": email, "password": password}))
            .build();
        Answer::of(login(use_case, request).await)
    }

    #[tokio::test]
    async fn the_right_password_is_a_200_with_a_session_and_last_login() {
        let answer = log_in(
            &world(InMemoryUsers::default()),
            "Ada@example.com",
            "correct horse battery",
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.body["user"]["last_login"],
            "2026-11-24T10:15:30.123Z"
        );
        assert_eq!(answer.body["token_type"], "Bearer");
        assert_eq!(answer.body["expires_in"], 900);
        let access = answer.body["access_token"].as_str().unwrap();
        let refresh = answer.body["refresh_token"].as_str().unwrap();
        assert!(access.starts_with("access:") && !refresh.is_empty());
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert_eq!(answer.header("etag"), Some("\"2\""));
    }

    #[tokio::test]
    async fn a_wrong_password_and_an_unknown_address_are_one_401_and_suspension_a_403() {
        let use_case = world(InMemoryUsers::default());
        let wrong = log_in(&use_case, "ada@example.com", "wrong horse battery").await;
        let unknown = log_in(&use_case, "nobody@example.com", "correct horse battery").await;
        assert_eq!(wrong.problem(401), INVALID_CREDENTIALS_DETAIL);
        assert_eq!(unknown.problem(401), INVALID_CREDENTIALS_DETAIL);
        log_in(&use_case, "grace@example.com", "correct horse battery")
            .await
            .problem(403);
    }

    #[tokio::test]
    async fn bad_bodies_are_400_413_and_422_naming_every_field() {
        let use_case = world(InMemoryUsers::default());
        let handle = |request| login(&use_case, request);
        assert_body_rows(post, handle, &["email", "password"]).await;
    }

    #[tokio::test]
    async fn store_failures_are_503_and_500() {
        let unavailable = world(InMemoryUsers::with_health(StoreHealth::Unavailable));
        log_in(&unavailable, "ada@example.com", "x")
            .await
            .unavailable();
        let failing = world(InMemoryUsers::with_health(StoreHealth::Failing));
        log_in(&failing, "ada@example.com", "x").await.internal();
    }

    #[tokio::test]
    async fn five_failures_lock_the_address_with_a_429_and_retry_after() {
        let use_case = world(InMemoryUsers::default());
        for _ in 0..5 {
            log_in(&use_case, "ada@example.com", "wrong horse battery")
                .await
                .problem(401);
        }
        let locked = log_in(&use_case, "ada@example.com", "correct horse battery").await;
        locked.problem(429);
        assert_eq!(locked.header("retry-after"), Some("1"));
    }
}
