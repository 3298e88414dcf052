//! `POST /password-reset` and `POST /password-reset/confirm`: a password set through a
//! single-use token sent by email.

use crate::openapi::InvalidToken;
use crate::request::{JsonObject, verbatim};
use crate::response;
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::credentials::{NewPasswordRequest, PasswordResetRequest as ResetCommand};
use domain::{Email, Password};
use lambda_http::Request;
use utoipa::ToSchema;

/// `POST /password-reset`
#[derive(Debug, ToSchema)]
#[schema(example = json!({"email": "ada@example.com"}))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(value_type = String, format = "email", max_length = 254)]
    email: Email,
}

impl PasswordResetRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let email = body.string("email", Email::parse);
        let email = body.finish(email)?;
        Ok(Self { email })
    }
}

#[utoipa::path(post, path = "/password-reset", tag = "Credentials",
    request_body(content = PasswordResetRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted, whether or not the address belongs to anyone. An active user gets a token by email, valid for one hour, once."),
        ))]
pub async fn request_password_reset(
    use_case: &impl UseCase<ResetCommand>,
    request: Request,
) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let PasswordResetRequest { email } = PasswordResetRequest::read(&request)?;
    use_case.execute(&caller, ResetCommand { email }).await?;
    Ok(response::accepted())
}

/// `POST /password-reset/confirm`
#[derive(ToSchema)]
#[schema(example = json!({"token": "Zk9nX3Rva2VuLWZyb20tdGhlLWVtYWlsLWFzLXNlbnQ", "new_password": "correct horse battery"}))]
#[serde(deny_unknown_fields)]
pub struct ConfirmPasswordResetRequest {
    /// The `token=` value of the reset email.
    token: String,
    #[schema(value_type = String, min_length = 12, max_length = 128, format = Password)]
    new_password: Password,
}

impl ConfirmPasswordResetRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let token = body.string("token", verbatim);
        let new_password = body.string("new_password", Password::parse);
        let (token, new_password) = body.finish(token.zip(new_password))?;
        Ok(Self {
            token,
            new_password,
        })
    }
}

#[utoipa::path(post, path = "/password-reset/confirm", tag = "Credentials",
    request_body(content = ConfirmPasswordResetRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "The new password is set (Argon2id)."),
        (status = 400, response = InvalidToken),
        ))]
pub async fn confirm_password_reset(
    use_case: &impl UseCase<NewPasswordRequest>,
    request: Request,
) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let ConfirmPasswordResetRequest {
        token,
        new_password,
    } = ConfirmPasswordResetRequest::read(&request)?;
    let command = NewPasswordRequest {
        token,
        new_password,
    };
    use_case.execute(&caller, command).await?;
    Ok(response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::INVALID_TOKEN_DETAIL;
    use crate::testing::{Answer, TestRequest, assert_body_rows};
    use application::credentials::{ConfirmPasswordReset, RequestPasswordReset};
    use application::fakes::{
        FakeHasher, FakeSealer, FakeTokens, FixedClock, InMemoryCredentials, InMemoryUsers,
        StoreHealth, user_with_email,
    };
    use application::ports::{Clock, CredentialRepository, ResetTokenRecord, ResetTokens};
    use serde_json::json;

    type Ask = RequestPasswordReset<
        InMemoryUsers,
        InMemoryCredentials,
        FakeTokens,
        FakeSealer,
        FixedClock,
    >;
    type Confirm = application::fakes::InMemoryConfirmReset;

    fn requesting(users: &InMemoryUsers) -> Ask {
        RequestPasswordReset::new(
            users.clone(),
            InMemoryCredentials::beside(users),
            FakeTokens,
            FakeSealer::default(),
            FixedClock::default(),
        )
    }

    fn confirming(users: &InMemoryUsers, credentials: &InMemoryCredentials) -> Confirm {
        ConfirmPasswordReset::new(
            users.clone(),
            credentials.clone(),
            FakeHasher::default(),
            FakeTokens,
            FixedClock::default(),
        )
    }

    fn post_reset() -> TestRequest {
        TestRequest::new("POST", "/password-reset")
    }

    fn post_confirm() -> TestRequest {
        TestRequest::new("POST", "/password-reset/confirm")
    }

    async fn ask(users: &InMemoryUsers, email: &str) -> Answer {
        let request = post_reset().json(json!({ "email": email })).build();
        Answer::of(request_password_reset(&requesting(users), request).await)
    }

    async fn confirm(
        users: &InMemoryUsers,
        credentials: &InMemoryCredentials,
        token: &str,
    ) -> Answer {
        let body = json!({"token": token, "new_password": "correct horse battery"});
        let request = post_confirm().json(body).build();
        Answer::of(confirm_password_reset(&confirming(users, credentials), request).await)
    }

    #[tokio::test]
    async fn a_reset_is_a_202_for_known_and_unknown_addresses_alike() {
        let users = InMemoryUsers::default();
        users.add(user_with_email("ada@example.com"));
        let known = ask(&users, "ada@example.com").await;
        let unknown = ask(&users, "nobody@example.com").await;
        assert_eq!((known.status, unknown.status), (202, 202));
        assert_eq!(known.body, unknown.body);
        assert_eq!(
            users.outbox().emails().len(),
            1,
            "only the known address gets a token"
        );
    }

    #[tokio::test]
    async fn bad_reset_bodies_are_400_413_and_422() {
        let use_case = requesting(&InMemoryUsers::default());
        let handle = |request| request_password_reset(&use_case, request);
        assert_body_rows(post_reset, handle, &["email"]).await;
    }

    #[tokio::test]
    async fn reset_store_failures_are_503_and_500() {
        let unavailable = InMemoryUsers::with_health(StoreHealth::Unavailable);
        ask(&unavailable, "ada@example.com").await.unavailable();
        let failing = InMemoryUsers::with_health(StoreHealth::Failing);
        ask(&failing, "ada@example.com").await.internal();
    }

    #[tokio::test]
    async fn with_the_key_service_down_a_reset_is_a_503_and_nothing_is_recorded() {
        let users = InMemoryUsers::default();
        users.add(user_with_email("ada@example.com"));
        let sealing_down = RequestPasswordReset::new(
            users.clone(),
            InMemoryCredentials::beside(&users),
            FakeTokens,
            FakeSealer::unavailable(),
            FixedClock::default(),
        );
        let request = post_reset()
            .json(json!({"email": "ada@example.com"}))
            .build();
        Answer::of(request_password_reset(&sealing_down, request).await).unavailable();
        assert!(users.outbox().emails().is_empty());
    }

    #[tokio::test]
    async fn a_valid_token_is_a_204_once_and_then_the_one_invalid_token_400() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let credentials = InMemoryCredentials::beside(&users);
        let issued = FakeTokens.issue().unwrap();
        let expires_at = FixedClock::default().now().plus_seconds(3600).unwrap();
        let record = ResetTokenRecord {
            hash: issued.hash,
            user_id: ada.id(),
            sent_to: ada.email().clone(),
            expires_at,
        };
        credentials.save_reset_token(&record).await.unwrap();
        let first = confirm(&users, &credentials, &issued.token).await;
        assert_eq!((first.status, &first.body), (204, &serde_json::Value::Null));
        assert_eq!(
            confirm(&users, &credentials, &issued.token)
                .await
                .problem(400),
            INVALID_TOKEN_DETAIL
        );
        assert_eq!(
            confirm(&users, &credentials, "made-up").await.problem(400),
            INVALID_TOKEN_DETAIL
        );
    }

    #[tokio::test]
    async fn bad_confirm_bodies_are_400_413_and_422_naming_every_field() {
        let use_case = confirming(&InMemoryUsers::default(), &InMemoryCredentials::default());
        let handle = |request| confirm_password_reset(&use_case, request);
        assert_body_rows(post_confirm, handle, &["token", "new_password"]).await;
        let short = post_confirm()
            .json(json!({"token": "t", "new_password": "short"}))
            .build();
        let answer = Answer::of(confirm_password_reset(&use_case, short).await);
        assert_eq!(answer.invalid_fields(), ["new_password"]);
    }

    #[tokio::test]
    async fn confirm_store_failures_are_503_and_500() {
        let users = InMemoryUsers::default();
        let unavailable = InMemoryCredentials::with_health(StoreHealth::Unavailable);
        confirm(&users, &unavailable, "t").await.unavailable();
        let failing = InMemoryCredentials::with_health(StoreHealth::Failing);
        confirm(&users, &failing, "t").await.internal();
    }
}
