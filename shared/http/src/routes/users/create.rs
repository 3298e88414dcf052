//! `POST /users`: registers a user.

use crate::idempotency::IdempotencyKeyHeader;
use crate::openapi::Conflict;
use crate::request::JsonObject;
use crate::response::{self, UserBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::users::NewUser;
use domain::{Email, UserName};
use lambda_http::Request;
use utoipa::ToSchema;

/// `POST /users`
#[derive(Debug, ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "name": "Ada Lovelace"}))]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Trimmed; one `@`, an ASCII part before it and a dotted domain after it (an
    /// internationalized domain is stored in its punycode form); unique, ignoring case.
    #[schema(value_type = String, format = "email", max_length = 254)]
    email: Email,
    /// Trimmed and NFC-normalized; no control characters, bidirectional overrides or other
    /// invisible formatting characters (zero-width joiner and non-joiner allowed).
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    name: UserName,
}

impl NewUserRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let email = body.string("email", Email::parse);
        let name = body.string("name", UserName::parse);
        let (email, name) = body.finish(email.zip(name))?;
        Ok(Self { email, name })
    }
}

impl From<NewUserRequest> for NewUser {
    fn from(NewUserRequest { email, name }: NewUserRequest) -> Self {
        Self { email, name }
    }
}

#[utoipa::path(post, path = "/users", tag = "Users",
    params(IdempotencyKeyHeader),
    request_body(content = NewUserRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; a welcome email is on its way.", body = UserBody,
            headers(("Location" = String, description = "`/users/{id}`"), ("ETag" = String, description = "The user's version"))),
        (status = 409, response = Conflict),
        ))]
pub async fn create_user(use_case: &impl UseCase<NewUser>, request: Request) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let command = NewUserRequest::read(&request)?.into();
    let user = use_case.execute(&caller, command).await?;
    Ok(response::created_user(&user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Answer, TestRequest, assert_body_rows};
    use application::fakes::{
        FixedClock, InMemoryUsers, SequentialIds, StoreHealth, user_with_email,
    };
    use application::users::CreateUser;
    use serde_json::json;

    type Create = CreateUser<InMemoryUsers, FixedClock, SequentialIds>;

    fn use_case(users: &InMemoryUsers) -> Create {
        CreateUser::new(users.clone(), FixedClock::default(), SequentialIds)
    }

    fn post() -> TestRequest {
        TestRequest::new("POST", "/users")
    }

    async fn register(use_case: &Create, body: serde_json::Value) -> Answer {
        Answer::of(create_user(use_case, post().json(body).build()).await)
    }

    #[tokio::test]
    async fn a_registration_is_a_201_with_the_user_its_location_and_etag() {
        let users = InMemoryUsers::default();
        let answer = register(
            &use_case(&users),
            json!({"email": " Ada@Example.com ", "name": "Ada Lovelace"}),
        )
        .await;
        assert_eq!(answer.status, 201);
        let id = answer.body["id"].as_str().unwrap();
        assert_eq!(
            answer.header("location"),
            Some(format!("/users/{id}").as_str())
        );
        assert_eq!(answer.header("etag"), Some("\"1\""));
        assert_eq!(answer.body["email"], "Ada@Example.com");
        assert_eq!(users.count(), 1);
    }

    #[tokio::test]
    async fn bad_bodies_are_400_413_and_422_naming_every_field() {
        let use_case = use_case(&InMemoryUsers::default());
        let handle = |request| create_user(&use_case, request);
        assert_body_rows(post, handle, &["email", "name"]).await;
        let answer = register(
            &use_case,
            json!({"email": "nope", "name": " ", "role": "admin"}),
        )
        .await;
        assert_eq!(answer.invalid_fields(), ["email", "name", "role"]);
    }

    #[tokio::test]
    async fn a_taken_address_is_a_409() {
        let users = InMemoryUsers::default();
        users.add(user_with_email("ada@example.com"));
        let answer = register(
            &use_case(&users),
            json!({"email": "ADA@example.com", "name": "Ada"}),
        )
        .await;
        answer.problem(409);
    }

    #[tokio::test]
    async fn a_store_outage_is_a_503_and_a_store_failure_a_500_without_its_cause() {
        let body = json!({"email": "ada@example.com", "name": "Ada"});
        let unavailable = InMemoryUsers::with_health(StoreHealth::Unavailable);
        register(&use_case(&unavailable), body.clone())
            .await
            .unavailable();
        let failing = InMemoryUsers::with_health(StoreHealth::Failing);
        register(&use_case(&failing), body).await.internal();
    }
}
