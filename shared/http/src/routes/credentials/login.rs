//! `POST /login`: checks a password and records the login.

use crate::openapi::{Conflict, Forbidden, Unauthorized};
use crate::request::{JsonObject, verbatim};
use crate::response::{self, UserBody};
use crate::{HandlerResult, Problem};
use application::UseCase;
use application::credentials::LoginRequest as LoginCommand;
use domain::Email;
use lambda_http::Request;
use lambda_http::http::StatusCode;
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
        (status = 200, description = "The user, with `last_login` set.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        ))]
pub async fn login(use_case: &impl UseCase<LoginCommand>, request: Request) -> HandlerResult {
    let LoginRequest { email, password } = LoginRequest::read(&request)?;
    let user = use_case.execute(LoginCommand { email, password }).await?;
    Ok(response::user(StatusCode::OK, &user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::INVALID_CREDENTIALS_DETAIL;
    use crate::testing::{Answer, TestRequest, assert_body_rows};
    use application::credentials::Login;
    use application::fakes::{
        FakeHasher, FixedClock, InMemoryCredentials, InMemoryUsers, StoreHealth, user_with_email,
    };
    use domain::PasswordHash;
    use serde_json::json;

    type LogIn = Login<InMemoryUsers, InMemoryCredentials, FakeHasher, FixedClock>;

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
        Login::new(
            users,
            credentials,
            FakeHasher::default(),
            FixedClock::default(),
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
    async fn the_right_password_is_a_200_with_last_login() {
        let answer = log_in(
            &world(InMemoryUsers::default()),
            "Ada@example.com",
            "correct horse battery",
        )
        .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["last_login"], "2026-11-24T10:15:30.123Z");
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
}
