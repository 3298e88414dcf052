//! The user lifecycle: `POST /users/{id}/suspend`, `POST /users/{id}/activate`,
//! `DELETE /users/{id}` and `POST /users/{id}/logins`. One operation with four transitions
//! (`application::users::Transition`), so one handler shape: the id and `If-Match` in, the
//! changed user out. Each function wires the handler to a `ChangeUser` of its transition.

use crate::openapi::{Conflict, Forbidden, NotFound, PreconditionFailed};
use crate::request::{IfMatchHeader, UserPath};
use crate::response::{self, UserBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::users::UserChange;
use domain::User;
use lambda_http::Request;
use lambda_http::http::StatusCode;

/// Runs the change the request names: its user, pinned by `If-Match` when sent.
async fn change(use_case: &impl UseCase<UserChange>, request: &Request) -> Result<User, Problem> {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), request)?;
    let IfMatchHeader { if_match } = IfMatchHeader::read(request);
    Ok(use_case
        .execute(&caller, UserChange { id, if_match })
        .await?)
}

#[utoipa::path(post, path = "/users/{id}/suspend", tag = "Users",
    params(UserPath, IfMatchHeader),
    security(("bearer" = [])),
    responses(
        (status = 403, response = Forbidden),
        (status = 200, description = "The suspended user (also when it already was).", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ))]
pub async fn suspend_user(use_case: &impl UseCase<UserChange>, request: Request) -> HandlerResult {
    let user = change(use_case, &request).await?;
    Ok(response::user(StatusCode::OK, &user))
}

#[utoipa::path(post, path = "/users/{id}/activate", tag = "Users",
    params(UserPath, IfMatchHeader),
    security(("bearer" = [])),
    responses(
        (status = 403, response = Forbidden),
        (status = 200, description = "The active user (also when it already was).", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ))]
pub async fn activate_user(use_case: &impl UseCase<UserChange>, request: Request) -> HandlerResult {
    let user = change(use_case, &request).await?;
    Ok(response::user(StatusCode::OK, &user))
}

#[utoipa::path(delete, path = "/users/{id}", tag = "Users",
    params(UserPath, IfMatchHeader),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Soft-deleted: the record stays, the address is free again."),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ))]
pub async fn delete_user(use_case: &impl UseCase<UserChange>, request: Request) -> HandlerResult {
    change(use_case, &request).await?;
    Ok(response::no_content())
}

#[utoipa::path(post, path = "/users/{id}/logins", tag = "Users",
    params(UserPath, IfMatchHeader),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user with `last_login` set.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 403, response = Forbidden), (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 412, response = PreconditionFailed),
    ))]
pub async fn record_login(use_case: &impl UseCase<UserChange>, request: Request) -> HandlerResult {
    let user = change(use_case, &request).await?;
    Ok(response::user(StatusCode::OK, &user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Answer, TestRequest, assert_authentication_rows, signed_in};
    use application::fakes::{FixedClock, InMemoryUsers, StoreHealth, user_with_email};
    use application::users::{ChangeUser, Transition};
    use domain::UserId;

    fn request(id: impl ToString) -> TestRequest {
        TestRequest::new("POST", "/users/x/change").path("id", id)
    }

    /// The route of each transition, wired as its function wires it.
    async fn run(users: &InMemoryUsers, transition: Transition, request: TestRequest) -> Answer {
        let use_case = ChangeUser::new(users.clone(), FixedClock::default(), transition);
        let request = request.build_in(users);
        Answer::of(match transition {
            Transition::Suspend => suspend_user(&use_case, request).await,
            Transition::Activate => activate_user(&use_case, request).await,
            Transition::Delete => delete_user(&use_case, request).await,
            Transition::RecordLogin => record_login(&use_case, request).await,
            Transition::SignOutEverywhere => {
                super::super::sessions::sign_out_everywhere(&use_case, request).await
            }
        })
    }

    /// The rows every lifecycle route shares: unknown and malformed ids are 404, a stale
    /// `If-Match` is 412, and store failures are 503 and 500.
    async fn assert_shared_rows(transition: Transition) {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        run(&users, transition, request(UserId::generate()))
            .await
            .problem(404);
        run(&users, transition, request("not-an-id"))
            .await
            .problem(404);
        let stale = request(ada.id()).header("if-match", "\"9\"");
        run(&users, transition, stale).await.problem(412);
        assert_eq!(users.stored(ada.id()), Some(ada.clone()), "nothing changed");
        let unavailable = InMemoryUsers::with_health(StoreHealth::Unavailable);
        run(&unavailable, transition, request(ada.id()))
            .await
            .unavailable();
        let failing = InMemoryUsers::with_health(StoreHealth::Failing);
        run(&failing, transition, request(ada.id()))
            .await
            .internal();
    }

    fn stored(users: &InMemoryUsers, email: &str, change: fn(&mut domain::User)) -> domain::User {
        let mut user = user_with_email(email);
        change(&mut user);
        users.add(user)
    }

    fn deleted(user: &mut domain::User) {
        user.delete().unwrap();
    }

    fn suspended(user: &mut domain::User) {
        user.suspend().unwrap();
    }

    #[tokio::test]
    async fn suspend_is_a_200_with_the_user_and_a_409_for_a_deleted_one() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let pinned = request(ada.id()).header("if-match", "\"1\"");
        let answer = run(&users, Transition::Suspend, pinned).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["status"], "suspended");
        assert_eq!(answer.header("etag"), Some("\"2\""));
        let gone = stored(&users, "gone@example.com", deleted);
        let refused = run(&users, Transition::Suspend, request(gone.id())).await;
        assert_eq!(refused.problem(409), "a deleted user cannot be suspended");
        assert_shared_rows(Transition::Suspend).await;
    }

    #[tokio::test]
    async fn activate_is_a_200_with_the_user_and_a_409_for_a_deleted_one() {
        let users = InMemoryUsers::default();
        let ada = stored(&users, "ada@example.com", suspended);
        let answer = run(&users, Transition::Activate, request(ada.id())).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["status"], "active");
        let gone = stored(&users, "gone@example.com", deleted);
        let refused = run(&users, Transition::Activate, request(gone.id())).await;
        assert_eq!(refused.problem(409), "a deleted user cannot be activated");
        assert_shared_rows(Transition::Activate).await;
    }

    #[tokio::test]
    async fn delete_is_a_204_and_a_404_the_second_time() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let answer = run(&users, Transition::Delete, request(ada.id())).await;
        assert_eq!(
            (answer.status, &answer.body),
            (204, &serde_json::Value::Null)
        );
        run(&users, Transition::Delete, request(ada.id()))
            .await
            .problem(404);
        assert_shared_rows(Transition::Delete).await;
    }

    #[tokio::test]
    async fn a_login_is_a_200_with_last_login_and_a_403_for_a_suspended_user() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let answer = run(&users, Transition::RecordLogin, request(ada.id())).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["last_login"], "2026-11-24T10:15:30.123Z");
        let grace = stored(&users, "grace@example.com", suspended);
        let refused = run(&users, Transition::RecordLogin, request(grace.id())).await;
        assert_eq!(refused.problem(403), "a suspended user cannot log in");
        assert_shared_rows(Transition::RecordLogin).await;
    }

    #[tokio::test]
    async fn signing_out_everywhere_shares_the_rows_of_every_lifecycle_route() {
        assert_shared_rows(Transition::SignOutEverywhere).await;
    }

    #[tokio::test]
    async fn users_may_delete_themselves_and_only_admins_do_the_rest() {
        for transition in [
            Transition::Suspend,
            Transition::Activate,
            Transition::Delete,
            Transition::RecordLogin,
            Transition::SignOutEverywhere,
        ] {
            let users = InMemoryUsers::default();
            let ada = users.add(user_with_email("ada@example.com"));
            let use_case = ChangeUser::new(users.clone(), FixedClock::default(), transition);
            let handle = |request| async {
                match transition {
                    Transition::Suspend => suspend_user(&use_case, request).await,
                    Transition::Activate => activate_user(&use_case, request).await,
                    Transition::Delete => delete_user(&use_case, request).await,
                    Transition::RecordLogin => record_login(&use_case, request).await,
                    Transition::SignOutEverywhere => {
                        super::super::sessions::sign_out_everywhere(&use_case, request).await
                    }
                }
            };
            let admin_only = transition.policy() == application::Policy::Admin;
            assert_authentication_rows(|| request(ada.id()), handle, &ada, admin_only).await;
            assert_eq!(users.stored(ada.id()), Some(ada.clone()), "nothing changed");
        }
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let own = run(
            &users,
            Transition::Delete,
            request(ada.id()).by(signed_in(&users, &ada)),
        )
        .await;
        assert_eq!(own.status, 204);
    }
}
