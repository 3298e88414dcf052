//! `GET /users?status=&limit=&cursor=`: lists users, newest first; `GET /users?email=`: the
//! user that holds an address.

use super::super::page_response;
use crate::openapi::{BadRequest, Forbidden, ValidationFailed};
use crate::request::{PageQuery, single_query_value};
use crate::response::{PageBody, UserBody, UserStatusSchema};
use crate::{FieldError, HandlerResult, Problem, auth};
use application::UseCase;
use application::ports::{StatusFilter, UserListQuery};
use application::users::UserSearch;
use domain::{Email, UserStatus};
use lambda_http::{Request, RequestExt};
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

/// An exact lookup by address instead of a listing.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailQuery {
    /// The user that holds this address (any case); not with `status` or `cursor`
    #[param(value_type = Option<String>, format = "email")]
    email: Option<Email>,
}

impl EmailQuery {
    fn read(request: &Request, errors: &mut Vec<FieldError>) -> Option<Self> {
        let email = match single_query_value(request, "email", errors) {
            None => None,
            Some(raw) => match Email::parse(&raw) {
                Ok(email) => Some(email),
                Err(error) => {
                    errors.push(FieldError::new("email", error));
                    return None;
                }
            },
        };
        Some(Self { email })
    }
}

#[utoipa::path(get, path = "/users", tag = "Users",
    params(StatusQuery, PageQuery, EmailQuery),
    security(("bearer" = [])),
    responses(
        (status = 403, response = Forbidden),
        (status = 200, description = "One page, newest first; with `email`, the user that holds the address or none, and no next page.", body = PageBody<UserBody>),
        (status = 400, response = BadRequest), (status = 422, response = ValidationFailed),
    ))]
pub async fn list_users(use_case: &impl UseCase<UserSearch>, request: Request) -> HandlerResult {
    let caller = auth::caller(use_case.policy(), &request)?;
    let mut errors = Vec::new();
    let status = StatusQuery::read(&request, &mut errors);
    let page = PageQuery::read(&request, &mut errors);
    let email = EmailQuery::read(&request, &mut errors);
    let (Some(StatusQuery { status }), Some(PageQuery { limit, cursor }), Some(email), true) =
        (status, page, email, errors.is_empty())
    else {
        return Err(Problem::validation(errors));
    };
    let search = match email.email {
        None => UserSearch::Listing(UserListQuery {
            status,
            limit,
            cursor,
        }),
        Some(_) if has_query(&request, "status") || cursor.is_some() => {
            return Err(Problem::bad_request(
                "email finds one user: it goes with neither status nor cursor",
            ));
        }
        Some(email) => UserSearch::Email(email),
    };
    let page = use_case.execute(&caller, search).await?;
    Ok(page_response(&page, UserBody::from))
}

fn has_query(request: &Request, name: &str) -> bool {
    request
        .query_string_parameters_ref()
        .is_some_and(|query| query.first(name).is_some())
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
    async fn an_address_finds_its_holder_alone_and_goes_with_no_status_or_cursor() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let found = list(&users, &[("email", "ADA@example.com")]).await;
        assert_eq!(found.status, 200);
        assert_eq!(found.body["items"][0]["id"], ada.id().to_string());
        assert!(found.body["next_cursor"].is_null());
        let none = list(&users, &[("email", "nobody@example.com")]).await;
        assert_eq!(none.body["items"], serde_json::json!([]));
        for with in [("status", "active"), ("cursor", "abc")] {
            list(&users, &[("email", "ada@example.com"), with])
                .await
                .problem(400);
        }
        let malformed = list(&users, &[("email", "not an address")]).await;
        assert_eq!(malformed.invalid_fields(), ["email"]);
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
