//! The Sessions routes: `GET /users/{id}/sessions` (where the user is signed in),
//! `DELETE /users/{id}/sessions/{session_id}` (end one) and `DELETE /users/{id}/sessions`
//! (sign out everywhere, a lifecycle change of the user).

use crate::openapi::{NotFound, PreconditionFailed};
use crate::request::{IfMatchHeader, SessionIdPath, UserPath};
use crate::response::{self, SessionsBody};
use crate::{HandlerResult, auth};
use application::UseCase;
use application::credentials::{SessionEnd, SessionsQuery};
use application::users::UserChange;
use lambda_http::Request;
use lambda_http::http::StatusCode;

#[utoipa::path(get, path = "/users/{id}/sessions", tag = "Sessions",
    params(UserPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's live sessions, newest first; `current` marks the calling token's.", body = SessionsBody),
        (status = 404, response = NotFound),
    ))]
pub async fn list_sessions(
    use_case: &impl UseCase<SessionsQuery>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let sessions = use_case
        .execute(&caller, SessionsQuery { user_id: id })
        .await?;
    Ok(response::json(
        StatusCode::OK,
        &SessionsBody::from(&sessions[..]),
    ))
}

#[utoipa::path(delete, path = "/users/{id}/sessions/{session_id}", tag = "Sessions",
    params(UserPath, SessionIdPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session ended: its refresh token and its access tokens stop working at once."),
        (status = 404, response = NotFound),
    ))]
pub async fn end_session(use_case: &impl UseCase<SessionEnd>, request: Request) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let SessionIdPath { session_id } = SessionIdPath::read(&request)?;
    let command = SessionEnd {
        user_id: id,
        session: session_id,
    };
    use_case.execute(&caller, command).await?;
    Ok(response::no_content())
}

#[utoipa::path(delete, path = "/users/{id}/sessions", tag = "Sessions",
    params(UserPath, IfMatchHeader),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out everywhere: every session of the user ended, the caller's own included, and a pending email change with them."),
        (status = 404, response = NotFound), (status = 412, response = PreconditionFailed),
    ))]
pub async fn sign_out_everywhere(
    use_case: &impl UseCase<UserChange>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let IfMatchHeader { if_match } = IfMatchHeader::read(&request);
    use_case
        .execute(&caller, UserChange { id, if_match })
        .await?;
    Ok(response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Answer, TestRequest, assert_authentication_rows, signed_in};
    use application::credentials::UserSessions;
    use application::fakes::{FixedClock, InMemorySessions, InMemoryUsers, user_with_email};
    use application::users::{ChangeUser, Transition};
    use domain::{SessionId, User};

    fn world() -> (InMemoryUsers, InMemorySessions, User) {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let sessions = InMemorySessions::beside(&users);
        (users, sessions, ada)
    }

    fn list_case(
        users: &InMemoryUsers,
        sessions: &InMemorySessions,
    ) -> impl UseCase<SessionsQuery> {
        UserSessions::new(users.clone(), sessions.clone(), FixedClock::default())
    }

    #[tokio::test]
    async fn the_list_shows_each_live_session_with_the_callers_marked_current() {
        let (users, sessions, ada) = world();
        let own = signed_in(&users, &ada);
        let other = users.sign_in(&ada);
        let request = TestRequest::new("GET", "/users/x/sessions")
            .path("id", ada.id())
            .by(own)
            .build();
        let answer = Answer::of(list_sessions(&list_case(&users, &sessions), request).await);
        assert_eq!(answer.status, 200);
        let items = answer.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        let other_id = other.proof().unwrap().session.to_string();
        for item in items {
            assert_eq!(item["current"], item["id"] != other_id.as_str());
            assert_eq!(item["amr"], serde_json::json!(["pwd"]));
            for field in ["created_at", "last_used_at", "expires_at"] {
                assert!(item[field].is_string(), "{field}");
            }
            assert!(item.get("user_agent").is_some() && item.get("ip").is_some());
        }
        assert!(
            items[0]["id"].as_str() > items[1]["id"].as_str(),
            "newest first"
        );
    }

    #[tokio::test]
    async fn ending_a_session_is_a_204_then_a_404_and_a_malformed_id_is_a_404() {
        let (users, sessions, ada) = world();
        let other = users.sign_in(&ada);
        let use_case = UserSessions::new(users.clone(), sessions.clone(), FixedClock::default());
        let end = |session: String| {
            TestRequest::new("DELETE", "/users/x/sessions/y")
                .path("id", ada.id())
                .path("session_id", session)
                .by(signed_in(&users, &ada))
                .build()
        };
        let id = other.proof().unwrap().session.to_string();
        let answer = Answer::of(end_session(&use_case, end(id.clone())).await);
        assert_eq!(answer.status, 204);
        Answer::of(end_session(&use_case, end(id)).await).problem(404);
        let unknown =
            SessionId::start(application::ports::Clock::now(&FixedClock::default())).to_string();
        Answer::of(end_session(&use_case, end(unknown)).await).problem(404);
        Answer::of(end_session(&use_case, end("not-an-id".to_owned())).await).problem(404);
    }

    #[tokio::test]
    async fn signing_out_everywhere_is_a_204_that_ends_the_callers_session_too() {
        let (users, sessions, ada) = world();
        let use_case = ChangeUser::new(
            users.clone(),
            FixedClock::at(
                application::ports::Clock::now(&FixedClock::default())
                    .plus_seconds(1)
                    .unwrap(),
            ),
            Transition::SignOutEverywhere,
        );
        let own = signed_in(&users, &ada);
        let request = || {
            TestRequest::new("DELETE", "/users/x/sessions")
                .path("id", ada.id())
                .by(own)
        };
        let answer = Answer::of(sign_out_everywhere(&use_case, request().build()).await);
        assert_eq!(answer.status, 204);
        let again = Answer::of(sign_out_everywhere(&use_case, request().build()).await);
        again.problem(401);
        let listed = Answer::of(
            list_sessions(
                &list_case(&users, &sessions),
                TestRequest::new("GET", "/users/x/sessions")
                    .path("id", ada.id())
                    .build_in(&users),
            )
            .await,
        );
        assert_eq!(listed.body["items"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn only_the_user_itself_or_an_admin_sees_or_ends_its_sessions() {
        let (users, sessions, ada) = world();
        let list = list_case(&users, &sessions);
        let request = || TestRequest::new("GET", "/users/x/sessions").path("id", ada.id());
        assert_authentication_rows(
            request,
            |request| list_sessions(&list, request),
            &ada,
            false,
        )
        .await;
        let end = UserSessions::new(users.clone(), sessions.clone(), FixedClock::default());
        let request = || {
            TestRequest::new("DELETE", "/users/x/sessions/y")
                .path("id", ada.id())
                .path(
                    "session_id",
                    SessionId::start(application::ports::Clock::now(&FixedClock::default())),
                )
        };
        assert_authentication_rows(request, |request| end_session(&end, request), &ada, false)
            .await;
        let all = ChangeUser::new(
            users.clone(),
            FixedClock::default(),
            Transition::SignOutEverywhere,
        );
        let request = || TestRequest::new("DELETE", "/users/x/sessions").path("id", ada.id());
        assert_authentication_rows(
            request,
            |request| sign_out_everywhere(&all, request),
            &ada,
            false,
        )
        .await;
    }
}
