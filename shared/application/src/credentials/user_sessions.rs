//! A user's sessions: the list of where they are signed in, and ending one of them. Signing out
//! everywhere is a lifecycle change of the user (`users::Transition::SignOutEverywhere`).

use crate::ports::{Clock, RepositoryError, SessionRecord, SessionRepository, UserRepository};
use crate::standing::read_for;
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{SessionId, Timestamp, User, UserId};
use futures::future::join;

/// `GET /users/{id}/sessions`.
#[derive(Debug, Clone)]
pub struct SessionsQuery {
    pub user_id: UserId,
}

command!(SessionsQuery => Vec<SessionView>, SessionsError; subject = user_id);

/// `DELETE /users/{id}/sessions/{session_id}`.
#[derive(Debug, Clone)]
pub struct SessionEnd {
    pub user_id: UserId,
    pub session: SessionId,
}

command!(SessionEnd => (), SessionsError; subject = user_id);

/// A live session as its user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub record: SessionRecord,
    /// The session of the calling token.
    pub current: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown or deleted user.
    #[error("no such user")]
    UserNotFound,
    /// No live session with this id under this user.
    #[error("no such session")]
    SessionNotFound,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Whether `session` of `user` still works at `now`: not expired, and started after the
/// user's last revocation of all sessions (an ended one is not stored at all).
fn is_alive(user: &User, session: &SessionRecord, now: Timestamp) -> bool {
    user.session_is_valid(session.created_at())
        && session
            .expires_at()
            .is_some_and(|expires_at| now < expires_at)
}

/// The user a sessions route is about, read for the caller: unknown or deleted is not found.
async fn owner<U: UserRepository>(
    users: &U,
    caller: &Caller,
    id: UserId,
) -> Result<User, SessionsError> {
    read_for::<U, SessionsError>(users, caller, Policy::SelfOrAdmin, Some(id))
        .await?
        .filter(|user| !user.is_deleted())
        .ok_or(SessionsError::UserNotFound)
}

/// A user's sessions: listing the live ones, newest first, and ending one. One struct for
/// both routes, each of its functions wires one.
pub struct UserSessions<U, S, C> {
    users: U,
    sessions: S,
    clock: C,
}

impl<U, S, C> UserSessions<U, S, C> {
    pub fn new(users: U, sessions: S, clock: C) -> Self {
        Self {
            users,
            sessions,
            clock,
        }
    }
}

impl<U: UserRepository, S: SessionRepository, C: Clock> UseCase<SessionsQuery>
    for UserSessions<U, S, C>
{
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    async fn run(
        &self,
        caller: &Caller,
        query: SessionsQuery,
    ) -> Result<Vec<SessionView>, SessionsError> {
        let now = self.clock.now();
        // Both reads at once: one round trip of latency.
        let (user, stored) = join(
            owner(&self.users, caller, query.user_id),
            self.sessions.list(query.user_id),
        )
        .await;
        let (user, stored) = (user?, stored?);
        let current = caller.proof().map(|proof| proof.session);
        let mut live: Vec<SessionView> = stored
            .into_iter()
            .filter(|session| is_alive(&user, session, now))
            .map(|record| SessionView {
                current: Some(record.id) == current,
                record,
            })
            .collect();
        live.sort_by_key(|view| std::cmp::Reverse(view.record.id));
        Ok(live)
    }
}

/// Ends one session: its refresh token and its access tokens stop working at once.
impl<U: UserRepository, S: SessionRepository, C: Clock> UseCase<SessionEnd>
    for UserSessions<U, S, C>
{
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    fn audit_event(&self, _caller: &Caller) -> Option<&'static str> {
        Some("session_end")
    }

    async fn run(&self, caller: &Caller, command: SessionEnd) -> Result<(), SessionsError> {
        let user = owner(&self.users, caller, command.user_id).await?;
        let ended = self
            .sessions
            .end_session(command.user_id, command.session)
            .await?;
        // One that was revoked or had expired is gone from the list already: unknown.
        match ended {
            Some(session) if is_alive(&user, &session, self.clock.now()) => Ok(()),
            _ => Err(SessionsError::SessionNotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FixedClock, InMemorySessions, InMemoryUsers, user_with_email};
    use crate::ports::Outgoing;
    use crate::ports::{SESSION_SECONDS, SessionOrigin};
    use crate::users::{GetUser, UserLookup};
    use domain::AuthMethods;

    fn now() -> Timestamp {
        FixedClock::default().now()
    }

    fn stored_session(users: &InMemoryUsers, user: &User, started_at: Timestamp) -> SessionId {
        let id = SessionId::start(started_at);
        users.store_session(SessionRecord {
            user_id: user.id(),
            id,
            methods: AuthMethods::Password,
            last_used_at: started_at,
            origin: SessionOrigin::new(Some("curl/8.5.0"), Some("203.0.113.7")),
        });
        id
    }

    #[tokio::test]
    async fn the_list_holds_the_live_sessions_newest_first_with_the_callers_marked() {
        let users = InMemoryUsers::default();
        let mut ada = users.add(user_with_email("ada@example.com"));
        let at = |seconds: i64| now().plus_seconds(seconds).unwrap();
        stored_session(&users, &ada, at(-100));
        let mut revoked = ada.clone();
        revoked.revoke_sessions(at(-75));
        ada = users_update(&users, &ada, revoked).await;
        let older = stored_session(&users, &ada, at(-50));
        let expired = users.add(user_with_email("grace@example.com"));
        stored_session(&users, &expired, at(-SESSION_SECONDS - 1));
        let caller = users.sign_in(&ada);
        let sessions = InMemorySessions::beside(&users);
        let list = UserSessions::new(users.clone(), sessions.clone(), FixedClock::default());
        let listed = list
            .execute(&caller, SessionsQuery { user_id: ada.id() })
            .await
            .unwrap();
        let ids: Vec<SessionId> = listed.iter().map(|view| view.record.id).collect();
        assert_eq!(ids, [caller.proof().unwrap().session, older]);
        assert_eq!(
            listed.iter().map(|view| view.current).collect::<Vec<_>>(),
            [true, false]
        );
        let admin = users.admin_caller();
        let theirs = list
            .execute(
                &admin,
                SessionsQuery {
                    user_id: expired.id(),
                },
            )
            .await
            .unwrap();
        assert!(theirs.is_empty(), "an expired session is not live");
    }

    async fn users_update(users: &InMemoryUsers, current: &User, updated: User) -> User {
        crate::ports::UserRepository::update(users, current, updated, &Outgoing::nothing())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_ended_session_is_refused_at_once_and_cannot_be_ended_twice() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let grace = users.add(user_with_email("grace@example.com"));
        let (here, elsewhere) = (users.sign_in(&ada), users.sign_in(&ada));
        let graces = users.sign_in(&grace).proof().unwrap().session;
        let sessions = InMemorySessions::beside(&users);
        let end = UserSessions::new(users.clone(), sessions.clone(), FixedClock::default());
        let session = elsewhere.proof().unwrap().session;
        let command = |session| SessionEnd {
            user_id: ada.id(),
            session,
        };
        end.execute(&here, command(session)).await.unwrap();
        let get = GetUser::new(users.clone());
        let lookup = || UserLookup { id: ada.id() };
        assert!(matches!(
            get.execute(&elsewhere, lookup()).await,
            Err(crate::users::GetUserError::Denied(Denied::Revoked))
        ));
        assert!(
            get.execute(&here, lookup()).await.is_ok(),
            "the other one lives"
        );
        for unknown in [session, graces] {
            assert!(matches!(
                end.execute(&here, command(unknown)).await,
                Err(SessionsError::SessionNotFound)
            ));
        }
        assert!(
            users.stored_session(graces).is_some(),
            "another user's session is not touched"
        );
    }
}
