//! `PUT /users/{id}/role`: an administrator gives another user a role.

use crate::openapi::{Conflict, Forbidden, NotFound, PreconditionFailed};
use crate::request::{IfMatchHeader, JsonObject, UserPath};
use crate::response::{self, RoleSchema, UserBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::users::RoleChange;
use domain::Role;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use utoipa::ToSchema;

/// `PUT /users/{id}/role`
#[derive(Debug, ToSchema)]
#[schema(example = json!({"role": "admin"}))]
#[serde(deny_unknown_fields)]
pub struct RoleChangeRequest {
    #[schema(value_type = RoleSchema)]
    role: Role,
}

impl RoleChangeRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let role = body.string("role", |raw| {
            Role::parse(raw).ok_or("must be user or admin")
        });
        let role = body.finish(role)?;
        Ok(Self { role })
    }
}

#[utoipa::path(put, path = "/users/{id}/role", tag = "Users",
    params(UserPath, IfMatchHeader),
    request_body(content = RoleChangeRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 403, response = Forbidden),
        (status = 200, description = "The user with its new role; it shows in the user's tokens from its next refresh.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 412, response = PreconditionFailed),
    ))]
pub async fn change_user_role(
    use_case: &impl UseCase<RoleChange>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let RoleChangeRequest { role } = RoleChangeRequest::read(&request)?;
    let IfMatchHeader { if_match } = IfMatchHeader::read(&request);
    let command = RoleChange { id, role, if_match };
    let user = use_case.execute(&caller, command).await?;
    Ok(response::user(StatusCode::OK, &user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        Answer, TestRequest, assert_authentication_rows, assert_body_rows, signed_in,
    };
    use application::fakes::{FixedClock, InMemoryUsers, StoreHealth, user_with_email};
    use application::users::ChangeRole;
    use domain::UserId;
    use serde_json::json;

    fn put(id: impl ToString, role: &str) -> TestRequest {
        TestRequest::new("PUT", "/users/x/role")
            .path("id", id)
            .json(json!({ "role": role }))
    }

    async fn change(users: &InMemoryUsers, request: TestRequest) -> Answer {
        Answer::of(
            change_user_role(
                &ChangeRole::new(users.clone(), FixedClock::default()),
                request.build_in(users),
            )
            .await,
        )
    }

    #[tokio::test]
    async fn an_admin_promotes_a_user_and_cannot_change_its_own_role() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let answer = change(&users, put(ada.id(), "admin")).await;
        assert_eq!(
            (answer.status, answer.body["role"].as_str()),
            (200, Some("admin"))
        );
        let promoted = users.stored(ada.id()).unwrap();
        let own = change(
            &users,
            put(ada.id(), "user").by(signed_in(&users, &promoted)),
        )
        .await;
        own.problem(409);
        change(&users, put(UserId::generate(), "admin"))
            .await
            .problem(404);
        let stale = put(ada.id(), "user").header("if-match", "\"1\"");
        change(&users, stale).await.problem(412);
    }

    #[tokio::test]
    async fn bad_bodies_auth_and_store_failures() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let use_case = ChangeRole::new(users.clone(), FixedClock::default());
        let handle = |request| change_user_role(&use_case, request);
        let request = || TestRequest::new("PUT", "/users/x/role").path("id", ada.id());
        assert_body_rows(request, handle, &["role"]).await;
        let answer = change(&users, put(ada.id(), "root")).await;
        assert_eq!(answer.invalid_fields(), ["role"]);
        assert_authentication_rows(|| put(ada.id(), "admin"), handle, &ada, true).await;
        let unavailable = InMemoryUsers::with_health(StoreHealth::Unavailable);
        change(&unavailable, put(ada.id(), "admin"))
            .await
            .unavailable();
        let failing = InMemoryUsers::with_health(StoreHealth::Failing);
        change(&failing, put(ada.id(), "admin")).await.internal();
    }
}
