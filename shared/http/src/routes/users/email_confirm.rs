//! `POST /email-change/confirm`: the token sent to a new address comes back, and the user
//! moves to that address.

use crate::openapi::{Conflict, InvalidToken};
use crate::request::{JsonObject, verbatim};
use crate::response::{self, UserBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::users::EmailChangeConfirmation;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use utoipa::ToSchema;

/// `POST /email-change/confirm`
#[derive(Debug, ToSchema)]
#[schema(example = json!({"token": "Zk9nX3Rva2VuLWZyb20tdGhlLWVtYWlsLWFzLXNlbnQ"}))]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailChangeRequest {
    /// The `token=` value of the email sent to the new address.
    token: String,
}

impl ConfirmEmailChangeRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let token = body.string("token", verbatim);
        let token = body.finish(token)?;
        Ok(Self { token })
    }
}

#[utoipa::path(post, path = "/email-change/confirm", tag = "Users",
    request_body(content = ConfirmEmailChangeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The user at its new address, `email_verified: true`; the old address is told.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 400, response = InvalidToken),
        (status = 409, response = Conflict),
        ))]
pub async fn confirm_email_change(
    use_case: &impl UseCase<EmailChangeConfirmation>,
    request: Request,
) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let ConfirmEmailChangeRequest { token } = ConfirmEmailChangeRequest::read(&request)?;
    let user = use_case
        .execute(&caller, EmailChangeConfirmation { token })
        .await?;
    Ok(response::user(StatusCode::OK, &user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::INVALID_TOKEN_DETAIL;
    use crate::testing::{Answer, TestRequest, assert_body_rows, signed_in};
    use application::fakes::{FakeTokens, FixedClock, InMemoryUsers, StoreHealth, user_with_email};
    use application::users::{ConfirmEmailChange, UpdateUserEmail};
    use serde_json::json;

    type Confirm = ConfirmEmailChange<InMemoryUsers, FakeTokens, FixedClock>;

    fn confirming(users: &InMemoryUsers) -> Confirm {
        ConfirmEmailChange::new(users.clone(), FakeTokens, FixedClock::default())
    }

    fn post() -> TestRequest {
        TestRequest::new("POST", "/email-change/confirm")
    }

    async fn confirm(users: &InMemoryUsers, token: &str) -> Answer {
        let request = post().json(json!({"token": token})).build();
        Answer::of(confirm_email_change(&confirming(users), request).await)
    }

    /// Ada asks to move to `to` through the real route; the token that went there.
    async fn token_for_move(users: &InMemoryUsers, to: &str) -> String {
        let ada = users.add(user_with_email("ada@example.com"));
        let step_up = application::credentials::StepUp::new(
            application::fakes::InMemoryCredentials::default(),
            application::fakes::FakeHasher::default(),
        );
        let update = UpdateUserEmail::new(
            users.clone(),
            FakeTokens,
            application::fakes::FakeSealer::default(),
            FixedClock::default(),
            step_up,
        );
        let request = TestRequest::new("PUT", "/users/x/email")
            .path("id", ada.id())
            .by(signed_in(users, &ada))
            .json(json!({ "email": to }))
            .build();
        let answer = Answer::of(super::super::email::update_user_email(&update, request).await);
        assert_eq!(answer.status, 202);
        users
            .outbox()
            .revealed()
            .iter()
            .find_map(|email| {
                email
                    .text
                    .lines()
                    .find_map(|line| line.strip_prefix("token="))
            })
            .unwrap()
            .to_owned()
    }

    #[tokio::test]
    async fn a_valid_token_is_a_200_with_the_verified_user_once_then_the_one_invalid_token_400() {
        let users = InMemoryUsers::default();
        let token = token_for_move(&users, "ada@lovelace.org").await;
        let first = confirm(&users, &token).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.body["email"], "ada@lovelace.org");
        assert_eq!(first.body["email_verified"], true);
        assert_eq!(first.header("etag"), Some("\"2\""));
        assert_eq!(
            confirm(&users, &token).await.problem(400),
            INVALID_TOKEN_DETAIL
        );
        assert_eq!(
            confirm(&users, "made-up").await.problem(400),
            INVALID_TOKEN_DETAIL
        );
    }

    #[tokio::test]
    async fn an_address_taken_meanwhile_is_a_409() {
        let users = InMemoryUsers::default();
        let token = token_for_move(&users, "ada@lovelace.org").await;
        users.add(user_with_email("ada@lovelace.org"));
        confirm(&users, &token).await.problem(409);
    }

    #[tokio::test]
    async fn bad_bodies_are_400_413_and_422_naming_the_token() {
        let use_case = confirming(&InMemoryUsers::default());
        let handle = |request| confirm_email_change(&use_case, request);
        assert_body_rows(post, handle, &["token"]).await;
    }

    #[tokio::test]
    async fn store_failures_are_503_and_500() {
        confirm(&InMemoryUsers::with_health(StoreHealth::Unavailable), "t")
            .await
            .unavailable();
        confirm(&InMemoryUsers::with_health(StoreHealth::Failing), "t")
            .await
            .internal();
    }
}
