//! `PUT /users/{id}/password`: the user changes its own password, proving the current one.

use crate::openapi::{Conflict, Forbidden, NotFound, TooManyAttempts};
use crate::request::{JsonObject, UserPath, session_origin, verbatim};
use crate::response::{self, SessionBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::credentials::PasswordChange;
use domain::Password;
use lambda_http::Request;
use utoipa::ToSchema;

/// `PUT /users/{id}/password`
#[derive(ToSchema)]
#[schema(example = json!({"current_password": "correct horse battery", "new_password": "a brand new password"}))]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeRequest {
    #[schema(format = Password)]
    current_password: String,
    /// 12 to 128 characters.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 128)]
    new_password: Password,
}

impl PasswordChangeRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let current_password = body.string("current_password", verbatim);
        let new_password = body.string("new_password", Password::parse);
        let (current_password, new_password) = body.finish(current_password.zip(new_password))?;
        Ok(Self {
            current_password,
            new_password,
        })
    }
}

#[utoipa::path(put, path = "/users/{id}/password", tag = "Credentials",
    params(UserPath),
    request_body(content = PasswordChangeRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The password is changed: a new session for the caller (every other one ended), as a login answers.", body = SessionBody,
            headers(("ETag" = String, description = "The user's version"), ("Cache-Control" = String, description = "`no-store`"))),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 429, response = TooManyAttempts),
    ))]
pub async fn change_password(
    use_case: &impl UseCase<PasswordChange>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let PasswordChangeRequest {
        current_password,
        new_password,
    } = PasswordChangeRequest::read(&request)?;
    let command = PasswordChange {
        user_id: id,
        current_password,
        new_password,
        origin: session_origin(&request),
    };
    let session = use_case.execute(&caller, command).await?;
    Ok(response::session(&session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        Answer, TestRequest, assert_authentication_rows, assert_body_rows, signed_in,
    };
    use application::credentials::{ChangePassword, Sessions};
    use application::fakes::{
        FakeAccessTokens, FakeHasher, FakeTokens, FixedClock, InMemoryCredentials,
        InMemoryLoginStore, InMemorySessions, InMemoryUsers, user_with_email,
    };
    use domain::{PasswordHash, User};
    use serde_json::json;

    fn world() -> (InMemoryUsers, impl UseCase<PasswordChange>, User) {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let credentials = InMemoryCredentials::default();
        credentials.set_password(ada.id(), PasswordHash::new("fake:correct horse battery"));
        let sessions = InMemorySessions::beside(&users);
        let use_case = ChangePassword::new(
            users.clone(),
            InMemoryLoginStore::new(&users, &credentials, &sessions),
            credentials,
            FakeHasher::default(),
            FixedClock::default(),
            Sessions::new(FakeAccessTokens, sessions, FakeTokens),
        );
        (users, use_case, ada)
    }

    fn put(ada: &User) -> TestRequest {
        TestRequest::new("PUT", "/users/x/password").path("id", ada.id())
    }

    #[tokio::test]
    async fn the_right_current_password_is_a_200_with_a_new_session_and_a_wrong_one_a_403() {
        let (users, use_case, ada) = world();
        let wrong = put(&ada)
            .json(json!({"current_password": "nope nope nope", "new_password": "a brand new password"}))
            .by(signed_in(&users, &ada))
            .build();
        let wrong = Answer::of(change_password(&use_case, wrong).await);
        assert_eq!(wrong.problem(403), "the current password is wrong");
        assert_eq!(wrong.body["type"], "/problems/wrong-password");
        let right = put(&ada)
            .json(json!({"current_password": "correct horse battery", "new_password": "a brand new password"}))
            .by(signed_in(&users, &ada))
            .build();
        let right = Answer::of(change_password(&use_case, right).await);
        assert_eq!(right.status, 200, "{}", right.body);
        assert!(right.body["access_token"].is_string() && right.body["refresh_token"].is_string());
        assert_eq!(right.header("cache-control"), Some("no-store"));
    }

    #[tokio::test]
    async fn bodies_and_callers_are_checked_like_every_route() {
        let (users, use_case, ada) = world();
        let handle = |request| change_password(&use_case, request);
        let own = || put(&ada).by(signed_in(&users, &ada));
        assert_body_rows(own, handle, &["current_password", "new_password"]).await;
        let short = own()
            .json(json!({"current_password": "x", "new_password": "short"}))
            .build();
        assert_eq!(
            Answer::of(change_password(&use_case, short).await).invalid_fields(),
            ["new_password"]
        );
        let request = || {
            put(&ada).json(json!({"current_password": "correct horse battery", "new_password": "a brand new password"}))
        };
        assert_authentication_rows(request, handle, &ada, false).await;
        let admin = Answer::of(change_password(&use_case, request().build_in(&users)).await);
        assert_eq!(
            admin.problem(404),
            "no user with this id",
            "not even an admin"
        );
    }
}
