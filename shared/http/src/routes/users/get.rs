//! `GET /users/{id}`: reads an active user.

use crate::openapi::NotFound;
use crate::request::UserPath;
use crate::response::{self, UserBody};
use crate::{HandlerResult, auth};
use application::UseCase;
use application::users::UserLookup;
use lambda_http::Request;
use lambda_http::http::StatusCode;

#[utoipa::path(get, path = "/users/{id}", tag = "Users",
    params(UserPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user, if active.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 404, response = NotFound),
    ))]
pub async fn get_user(use_case: &impl UseCase<UserLookup>, request: Request) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let user = use_case.execute(&caller, UserLookup { id }).await?;
    Ok(response::user(StatusCode::OK, &user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Answer, TestRequest, admin_of, assert_authentication_rows, signed_in};
    use application::fakes::{InMemoryUsers, StoreHealth, user_with_email};
    use application::users::GetUser;
    use domain::UserId;

    async fn get(users: &InMemoryUsers, id: impl ToString) -> Answer {
        let request = TestRequest::new("GET", "/users/x")
            .path("id", id)
            .by(admin_of(users))
            .build();
        Answer::of(get_user(&GetUser::new(users.clone()), request).await)
    }

    #[tokio::test]
    async fn an_active_user_is_a_200_with_its_etag() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let answer = get(&users, ada.id()).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["id"], ada.id().to_string());
        assert_eq!(answer.header("etag"), Some("\"1\""));
    }

    #[tokio::test]
    async fn unknown_malformed_and_suspended_ids_are_404() {
        let users = InMemoryUsers::default();
        let mut suspended = user_with_email("s@example.com");
        suspended.suspend().unwrap();
        let suspended = users.add(suspended);
        get(&users, UserId::generate()).await.problem(404);
        get(&users, "not-an-id").await.problem(404);
        get(&users, suspended.id()).await.problem(404);
    }

    #[tokio::test]
    async fn store_failures_are_503_and_500() {
        let id = UserId::generate();
        get(&InMemoryUsers::with_health(StoreHealth::Unavailable), id)
            .await
            .unavailable();
        get(&InMemoryUsers::with_health(StoreHealth::Failing), id)
            .await
            .internal();
    }

    #[tokio::test]
    async fn only_the_user_itself_or_an_admin_reads_it() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let use_case = GetUser::new(users.clone());
        let request = || TestRequest::new("GET", "/users/x").path("id", ada.id());
        let handle = |request| get_user(&use_case, request);
        assert_authentication_rows(request, handle, &ada, false).await;
        let own = request().by(signed_in(&users, &ada)).build();
        let own = Answer::of(get_user(&use_case, own).await);
        assert_eq!(own.status, 200);
    }
}
