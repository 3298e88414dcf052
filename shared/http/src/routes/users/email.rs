//! `PUT /users/{id}/email`: moves a user to a new address, at once when an administrator
//! asks, after proof (a token sent there) when the user does.

use crate::openapi::{Conflict, Forbidden, NotFound, PreconditionFailed, TooManyAttempts};
use crate::request::{IfMatchHeader, JsonObject, UserPath, verbatim};
use crate::response::{self, UserBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::users::{ChangeEmail, EmailChange};
use domain::Email;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use utoipa::ToSchema;

/// `PUT /users/{id}/email`
#[derive(Debug, ToSchema)]
#[schema(example = json!({"email": "ada@lovelace.org", "current_password": "correct horse battery"}))]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    #[schema(value_type = String, format = "email", max_length = 254)]
    email: Email,
    /// Step-up for a change of one's own address: the current password, unless the access
    /// token's sign-in is less than 5 minutes old. Ignored on an administrator's change of
    /// another user.
    #[schema(format = Password)]
    current_password: Option<String>,
}

impl EmailChangeRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let email = body.string("email", Email::parse);
        let current_password = body.optional_string("current_password", verbatim);
        let (email, current_password) = body.finish(email.zip(current_password))?;
        Ok(Self {
            email,
            current_password,
        })
    }
}

#[utoipa::path(put, path = "/users/{id}/email", tag = "Users",
    params(UserPath, IfMatchHeader),
    request_body(content = EmailChangeRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "An administrator's change: the user with its new address, changed at once (and the old address told). The same address again changes nothing, for anyone.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 202, description = "The user's own change: nothing changed yet. The new address gets a token (single use, one hour) for `POST /email-change/confirm`."),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 412, response = PreconditionFailed),
        (status = 429, response = TooManyAttempts),
        ))]
pub async fn update_user_email(
    use_case: &impl UseCase<ChangeEmail>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let EmailChangeRequest {
        email,
        current_password,
    } = EmailChangeRequest::read(&request)?;
    let IfMatchHeader { if_match } = IfMatchHeader::read(&request);
    let command = ChangeEmail {
        id,
        email,
        if_match,
        current_password,
    };
    match use_case.execute(&caller, command).await? {
        EmailChange::Applied(user) => Ok(response::user(StatusCode::OK, &user)),
        EmailChange::Requested => Ok(response::accepted()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        Answer, TestRequest, assert_authentication_rows, assert_body_rows, signed_in,
    };
    use application::credentials::StepUp;
    use application::fakes::{
        FakeHasher, FakeSealer, FakeTokens, FixedClock, InMemoryCredentials, InMemoryUsers,
        StoreHealth, user_with_email,
    };
    use application::users::UpdateUserEmail;
    use domain::{User, UserId};
    use serde_json::json;

    fn put(id: impl ToString) -> TestRequest {
        TestRequest::new("PUT", "/users/x/email").path("id", id)
    }

    type Update = UpdateUserEmail<
        InMemoryUsers,
        FakeTokens,
        FakeSealer,
        FixedClock,
        InMemoryCredentials,
        FakeHasher,
    >;

    fn use_case(users: InMemoryUsers) -> Update {
        let step_up = StepUp::new(InMemoryCredentials::default(), FakeHasher::default());
        UpdateUserEmail::new(
            users,
            FakeTokens,
            FakeSealer::default(),
            FixedClock::default(),
            step_up,
        )
    }

    async fn change(users: &InMemoryUsers, request: TestRequest) -> Answer {
        Answer::of(update_user_email(&use_case(users.clone()), request.build_in(users)).await)
    }

    fn with_ada() -> (InMemoryUsers, User) {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        (users, ada)
    }

    #[tokio::test]
    async fn a_new_address_is_a_200_at_the_next_version() {
        let (users, ada) = with_ada();
        let request = put(ada.id())
            .header("if-match", "\"1\"")
            .json(json!({"email": "ada@lovelace.org"}));
        let answer = change(&users, request).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["email"], "ada@lovelace.org");
        assert_eq!(answer.header("etag"), Some("\"2\""));
    }

    #[tokio::test]
    async fn bad_bodies_are_400_413_and_422() {
        let (users, ada) = with_ada();
        let use_case = use_case(users);
        let handle = |request| update_user_email(&use_case, request);
        assert_body_rows(|| put(ada.id()), handle, &["email"]).await;
    }

    #[tokio::test]
    async fn unknown_users_are_404_taken_addresses_409_and_stale_versions_412() {
        let (users, ada) = with_ada();
        users.add(user_with_email("grace@example.com"));
        let body = json!({"email": "new@example.com"});
        change(&users, put(UserId::generate()).json(body.clone()))
            .await
            .problem(404);
        change(&users, put("nope").json(body.clone()))
            .await
            .problem(404);
        let taken = json!({"email": "GRACE@example.com"});
        change(&users, put(ada.id()).json(taken)).await.problem(409);
        let stale = put(ada.id()).header("if-match", "\"7\"").json(body);
        change(&users, stale).await.problem(412);
    }

    #[tokio::test]
    async fn store_failures_are_503_and_500() {
        let body = json!({"email": "new@example.com"});
        let unavailable = InMemoryUsers::with_health(StoreHealth::Unavailable);
        change(&unavailable, put(UserId::generate()).json(body.clone()))
            .await
            .unavailable();
        let failing = InMemoryUsers::with_health(StoreHealth::Failing);
        change(&failing, put(UserId::generate()).json(body))
            .await
            .internal();
    }

    #[tokio::test]
    async fn only_the_user_itself_or_an_admin_changes_the_address() {
        let (users, ada) = with_ada();
        let use_case = use_case(users.clone());
        let request = || put(ada.id()).json(json!({"email": "new@example.com"}));
        let handle = |request| update_user_email(&use_case, request);
        assert_authentication_rows(request, handle, &ada, false).await;
        let own = update_user_email(&use_case, request().by(signed_in(&users, &ada)).build()).await;
        let own = Answer::of(own);
        assert_eq!(own.status, 202, "the user's own change waits for proof");
        assert_eq!(own.body, serde_json::Value::Null);
    }
}
