//! `GET /users?status=&limit=&cursor=`: lists users, newest first.

use super::super::page_response;
use crate::openapi::{BadRequest, Forbidden, ValidationFailed};
use crate::request::{PageQuery, single_query_value};
use crate::response::{PageBody, UserBody, UserStatusSchema};
use crate::{FieldError, HandlerResult, Problem, auth};
use application::UseCase;
use application::ports::{StatusFilter, UserListQuery};
use domain::UserStatus;
use lambda_http::Request;
use utoipa::IntoParams;

/// The status filter of the listing.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Only users with this status; default: all but deleted
    #[param(value_type = Option<UserStatusSchema>)]
    status: StatusFilter,
}

impl StatusQuery {
    fn read(request: &Request, errors: &mut Vec<FieldError>) -> Option<Self> {
        let status = match single_query_value(request, "status", errors) {
            None => StatusFilter::NotDeleted,
            Some(raw) => {
                let Some(status) = UserStatus::parse(&raw) else {
                    let message = "must be one of active, suspended, deleted";
                    errors.push(FieldError::new("status", message));
                    return None;
                };
                StatusFilter::Only(status)
            }
        };
        Some(Self { status })
    }
}

#[utoipa::path(get, path = "/users", tag = "Users",
    params(StatusQuery, PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 403, response = Forbidden),
        (status = 200, description = "One page, newest first.", body = PageBody<UserBody>),
        (status = 400, response = BadRequest), (status = 422, response = ValidationFailed),
    ))]
pub async fn list_users(use_case: &impl UseCase<UserListQuery>, request: Request) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let mut errors = Vec::new();
    let status = StatusQuery::read(&request, &mut errors);
    let page = PageQuery::read(&request, &mut errors);
    let (Some(StatusQuery { status }), Some(PageQuery { limit, cursor }), true) =
        (status, page, errors.is_empty())
    else {
        return Err(Problem::validation(errors));
    };
    let query = UserListQuery {
        status,
        limit,
        cursor,
    };
    let page = use_case.execute(&caller, query).await?;
    Ok(page_response(&page, UserBody::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Answer, TestRequest, assert_authentication_rows, claims_of};
    use application::fakes::{InMemoryUsers, StoreHealth, user_with_email};
    use application::users::ListUsers;

    /// Lists as an administrator of `users`: a new one, unless `users` holds one already.
    async fn list(users: &InMemoryUsers, query: &[(&str, &str)]) -> Answer {
        let admin = users.admin_caller_once();
        let mut request = TestRequest::new("GET", "/users").by(claims_of(admin));
        for (name, value) in query {
            request = request.query(name, value);
        }
        Answer::of(list_users(&ListUsers::new(users.clone()), request.build()).await)
    }

    #[tokio::test]
    async fn pages_follow_their_cursor_to_the_end() {
        let users = InMemoryUsers::default();
        for n in 0..2 {
            users.add(user_with_email(&format!("u{n}@example.com")));
        }
        let first = list(&users, &[("limit", "2")]).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let last = list(&users, &[("limit", "2"), ("cursor", cursor)]).await;
        assert_eq!(last.body["items"].as_array().unwrap().len(), 1);
        assert!(last.body["next_cursor"].is_null());
    }

    #[tokio::test]
    async fn a_forged_cursor_is_a_400() {
        list(&InMemoryUsers::default(), &[("cursor", "forged")])
            .await
            .problem(400);
    }

    #[tokio::test]
    async fn a_bad_status_limit_and_repeated_parameter_are_one_422_naming_each() {
        let answer = list(
            &InMemoryUsers::default(),
            &[
                ("status", "gone"),
                ("limit", "0"),
                ("cursor", "a"),
                ("cursor", "b"),
            ],
        )
        .await;
        assert_eq!(answer.invalid_fields(), ["status", "limit", "cursor"]);
    }

    #[tokio::test]
    async fn store_failures_are_503_and_500() {
        list(&InMemoryUsers::with_health(StoreHealth::Unavailable), &[])
            .await
            .unavailable();
        list(&InMemoryUsers::with_health(StoreHealth::Failing), &[])
            .await
            .internal();
    }

    #[tokio::test]
    async fn only_an_admin_lists_users() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let use_case = ListUsers::new(users);
        let handle = |request| list_users(&use_case, request);
        assert_authentication_rows(|| TestRequest::new("GET", "/users"), handle, &ada, true).await;
    }
}
