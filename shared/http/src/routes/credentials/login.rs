//! `POST /login`: checks a password and records the login, or, with a second factor on,
//! answers the `mfa_token` that `POST /login/mfa` finishes the login with, given a code.

use crate::openapi::{
    Conflict, Forbidden, InvalidSecondFactor, LoginForbidden, TooManyAttempts, Unauthorized,
};
use crate::request::{JsonObject, session_origin, verbatim};
use crate::response::{self, SessionBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::credentials::{FactorProof, FinishLoginRequest, LoginRequest as LoginCommand};
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
        (status = 403, response = LoginForbidden), (status = 409, response = Conflict),
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

/// `POST /login/mfa`: the `mfa_token` and exactly one of `code` and `recovery_code`.
#[derive(ToSchema)]
#[schema(example = json!({"mfa_token": "Jm1b3Kx0n9m3w2f4l1C6sQdA7zVtYh8pRrE5uN0oWgI", "code": "287082"}))]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "the body's schema; `read` parses the body into the command"
)]
pub struct FinishLoginBody {
    /// From the 403 `/problems/mfa-required` of `POST /login`.
    mfa_token: String,
    /// The authenticator's current code: 6 digits.
    #[schema(required = false)]
    code: Option<String>,
    /// One of the recovery codes, in place of `code`.
    #[schema(required = false)]
    recovery_code: Option<String>,
}

impl FinishLoginBody {
    fn read(request: &Request) -> Result<(String, FactorProof), Problem> {
        let mut body = JsonObject::from_request(request)?;
        let mfa_token = body.string("mfa_token", verbatim);
        let code = body.optional_string("code", verbatim);
        let recovery_code = body.optional_string("recovery_code", verbatim);
        let proof = match (code, recovery_code) {
            (Some(Some(code)), Some(None)) => Some(FactorProof::Code(code)),
            (Some(None), Some(Some(code))) => Some(FactorProof::RecoveryCode(code)),
            (Some(_), Some(_)) => {
                body.fail("code", "send exactly one of code and recovery_code");
                None
            }
            _ => None,
        };
        body.finish(mfa_token.zip(proof))
    }
}

#[utoipa::path(post, path = "/login/mfa", tag = "Credentials",
    request_body(content = FinishLoginBody, content_type = "application/json"),
    responses(
        (status = 200, description = "A session whose access token's `amr` is `[\"pwd\", \"otp\", \"mfa\"]`; the `mfa_token` is used up.", body = SessionBody,
            headers(("ETag" = String, description = "The user's version"), ("Cache-Control" = String, description = "`no-store`"))),
        (status = 401, response = InvalidSecondFactor),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 429, response = TooManyAttempts),
        ))]
pub async fn finish_login(
    use_case: &impl UseCase<FinishLoginRequest>,
    request: Request,
) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let (mfa_token, proof) = FinishLoginBody::read(&request)?;
    let command = FinishLoginRequest {
        mfa_token,
        proof,
        origin: session_origin(&request),
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

    #[tokio::test]
    async fn with_a_second_factor_on_the_right_password_is_a_403_with_an_mfa_token() {
        let users = InMemoryUsers::default();
        let use_case = world(users.clone());
        let address = Email::parse("ada@example.com").unwrap();
        let ada = application::ports::UserRepository::find_by_email(&users, &address)
            .await
            .unwrap()
            .unwrap();
        let mut on = ada.clone();
        on.set_mfa(true).unwrap();
        users.add(on);
        let answer = log_in(&use_case, "ada@example.com", "correct horse battery").await;
        assert_eq!(answer.status, 403);
        assert_eq!(answer.body["type"], "/problems/mfa-required");
        assert_eq!(answer.body["expires_in"], 300);
        assert_eq!(answer.body["methods"], json!(["totp", "recovery_code"]));
        assert!(
            answer.body["mfa_token"]
                .as_str()
                .is_some_and(|token| !token.is_empty())
        );
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        assert!(answer.body.get("access_token").is_none());
        let wrong = log_in(&use_case, "ada@example.com", "wrong horse battery").await;
        assert_eq!(wrong.problem(401), INVALID_CREDENTIALS_DETAIL);
    }

    type Finisher = application::credentials::FinishLogin<
        InMemoryLoginStore,
        FixedClock,
        FakeAccessTokens,
        InMemorySessions,
        FakeTokens,
        application::fakes::InMemoryFactors,
        application::fakes::StepCodes,
        application::fakes::FakeSealer,
    >;

    fn finisher() -> Finisher {
        let users = InMemoryUsers::default();
        let sessions = InMemorySessions::beside(&users);
        let store = InMemoryLoginStore::new(&users, &InMemoryCredentials::default(), &sessions);
        let factor = application::credentials::SecondFactor::new(
            application::fakes::InMemoryFactors::beside(&users),
            application::fakes::StepCodes::default(),
            application::fakes::FakeSealer::default(),
        );
        application::credentials::FinishLogin::new(
            store,
            FixedClock::default(),
            Sessions::new(FakeAccessTokens, sessions, FakeTokens),
            factor,
        )
    }

    fn post_mfa() -> TestRequest {
        TestRequest::new("POST", "/login/mfa")
    }

    #[tokio::test]
    async fn the_second_step_takes_the_token_and_exactly_one_code() {
        let use_case = finisher();
        let handle = |request| finish_login(&use_case, request);
        assert_body_rows(post_mfa, handle, &["mfa_token", "code"]).await;
        let both = post_mfa()
            .json(json!({"mfa_token": "t", "code": "123456", "recovery_code": "AAAA"}))
            .build();
        let answer = Answer::of(finish_login(&use_case, both).await);
        assert_eq!(answer.invalid_fields(), vec!["code"]);
        let unknown = post_mfa()
            .json(json!({"mfa_token": "token-unknown", "code": "123456"}))
            .build();
        let answer = Answer::of(finish_login(&use_case, unknown).await);
        assert_eq!(
            answer.problem(401),
            crate::errors::INVALID_SECOND_FACTOR_DETAIL
        );
    }
}
