//! The user lifecycle: suspend, activate, delete and record a login are one operation (read,
//! apply a transition, write back under optimistic locking) that differs only in the
//! transition, so they share one command, one error type and one use case.

use super::modify::{ChangeOf, modify_user};
use crate::ports::{Clock, IfMatch, RepositoryError, UserRepository};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{Changed, LoginRefused, Timestamp, User, UserId, UserIsDeleted, UserStatus};
use std::fmt;

/// A change to one user, pinned to a version when the client sent `If-Match`.
#[derive(Debug, Clone)]
pub struct UserChange {
    pub id: UserId,
    pub if_match: Option<IfMatch>,
}

command!(UserChange => User, UserChangeError; subject = id);

/// How any change to a user can fail: the one error type of every user-changing use case.
#[derive(Debug, thiserror::Error)]
pub enum UserChangeError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown, or (where the change cannot see deleted users) deleted.
    #[error("no such user")]
    NotFound,
    /// The user is deleted, and a deleted user cannot take this transition.
    #[error("a deleted user cannot be {0}")]
    Deleted(Transition),
    #[error("a {status} user cannot log in")]
    NotAllowed { status: UserStatus },
    #[error("the email address is already registered")]
    EmailTaken,
    /// An administrator changing its own role.
    #[error("administrators cannot change their own role")]
    OwnRole,
    /// Suspending, deleting or demoting the last active administrator.
    #[error("the service must keep an active administrator")]
    LastAdmin,
    /// A change of one's own account without the fresh proof it needs.
    #[error(transparent)]
    StepUp(#[from] crate::credentials::StepUpError),
    #[error("the user has changed since the version named in If-Match")]
    PreconditionFailed,
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// What a lifecycle change does to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Suspending a suspended user changes nothing; a deleted one is refused. Suspending
    /// revokes the user's sessions.
    Suspend,
    /// Activating an active user changes nothing; a deleted one is refused.
    Activate,
    /// Soft delete: the record stays and its email address is free again, and the user's
    /// sessions are revoked; a deleted user is as unknown as any other.
    Delete,
    /// Stamps `last_login` now; only active users may log in, and a deleted user is unknown.
    RecordLogin,
    /// Signs out everywhere: every session of the user ends (and with them a pending email
    /// change); a deleted user is unknown.
    SignOutEverywhere,
}

impl Transition {
    fn apply(self, user: &mut User, now: Timestamp) -> Result<Changed, UserChangeError> {
        let refused = |UserIsDeleted| UserChangeError::Deleted(self);
        match self {
            Self::Suspend => {
                let changed = user.suspend().map_err(refused)?;
                if changed == Changed::Yes {
                    user.revoke_sessions(now);
                }
                Ok(changed)
            }
            Self::Activate => user.activate().map_err(refused),
            Self::Delete => {
                user.delete()
                    .map_err(|UserIsDeleted| UserChangeError::NotFound)?;
                user.revoke_sessions(now);
                Ok(Changed::Yes)
            }
            Self::RecordLogin | Self::SignOutEverywhere if user.is_deleted() => {
                Err(UserChangeError::NotFound)
            }
            Self::SignOutEverywhere => {
                user.revoke_sessions(now);
                Ok(Changed::Yes)
            }
            Self::RecordLogin => user
                .record_login(now)
                .map(|()| Changed::Yes)
                .map_err(|LoginRefused { status }| UserChangeError::NotAllowed { status }),
        }
    }
}

impl Transition {
    /// Users may delete themselves; the other transitions are an administrator's.
    pub fn policy(self) -> Policy {
        match self {
            Self::Delete | Self::SignOutEverywhere => Policy::SelfOrAdmin,
            Self::Suspend | Self::Activate | Self::RecordLogin => Policy::Admin,
        }
    }

    /// The audit event; recording a login made elsewhere changes no one's access.
    pub fn audit_event(self) -> Option<&'static str> {
        match self {
            Self::Suspend => Some("suspend"),
            Self::Activate => Some("activate"),
            Self::Delete => Some("delete"),
            Self::SignOutEverywhere => Some("sign_out_everywhere"),
            Self::RecordLogin => None,
        }
    }
}

impl fmt::Display for Transition {
    /// The past participle: "a deleted user cannot be suspended".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Suspend => "suspended",
            Self::Activate => "activated",
            Self::Delete => "deleted",
            Self::RecordLogin => "logged in",
            Self::SignOutEverywhere => "signed out",
        })
    }
}

/// Applies one `Transition` to the user a command names.
pub struct ChangeUser<R, C> {
    users: R,
    clock: C,
    transition: Transition,
}

impl<R: UserRepository, C: Clock> ChangeUser<R, C> {
    pub fn new(users: R, clock: C, transition: Transition) -> Self {
        Self {
            users,
            clock,
            transition,
        }
    }
}

impl<R: UserRepository, C: Clock> UseCase<UserChange> for ChangeUser<R, C> {
    fn policy(&self) -> Policy {
        self.transition.policy()
    }

    fn audit_event(&self, _caller: &Caller) -> Option<&'static str> {
        self.transition.audit_event()
    }

    async fn run(&self, caller: &Caller, command: UserChange) -> Result<User, UserChangeError> {
        let now = self.clock.now();
        let transition = self.transition;
        let of = ChangeOf {
            caller,
            policy: self.policy(),
            id: command.id,
        };
        modify_user(&self.users, of, command.if_match.as_ref(), |user| {
            transition.apply(user, now)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{AuditLines, events_of};
    use crate::fakes::{FixedClock, InMemoryUsers, user_with_email};
    use crate::ports::InsertUserError;
    use crate::ports::Outgoing;
    use domain::Version;

    fn change(
        users: &InMemoryUsers,
        transition: Transition,
    ) -> ChangeUser<InMemoryUsers, FixedClock> {
        ChangeUser::new(users.clone(), FixedClock::default(), transition)
    }

    #[tokio::test]
    async fn suspend_activate_and_delete_are_audited_with_who_did_it_to_whom() {
        let (lines, _guard) = AuditLines::capture();
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let grace = users.add(user_with_email("grace@example.com"));
        let command = |id| UserChange { id, if_match: None };
        let admin = users.admin_caller();
        change(&users, Transition::Suspend)
            .execute(&admin, command(ada.id()))
            .await
            .unwrap();
        change(&users, Transition::Activate)
            .execute(&users.sign_in(&grace), command(ada.id()))
            .await
            .unwrap_err();
        change(&users, Transition::Delete)
            .execute(&admin, command(UserId::generate()))
            .await
            .unwrap_err();
        change(&users, Transition::RecordLogin)
            .execute(&admin, command(ada.id()))
            .await
            .unwrap_err();
        let recorded = lines.take();
        let events = events_of(&recorded);
        assert_eq!(
            events,
            [
                ("suspend", "success"),
                ("activate", "denied"),
                ("delete", "failure"),
            ],
            "recording a login made elsewhere is no security event"
        );
        let ada_id = ada.id().to_string();
        assert_eq!(
            recorded[0].get("actor_id"),
            admin.user_id().map(|id| id.to_string()).as_ref()
        );
        assert_eq!(recorded[0].get("target_id"), Some(&ada_id));
        assert_eq!(recorded[1].get("actor_id"), Some(&grace.id().to_string()));
    }

    fn of(id: UserId) -> UserChange {
        UserChange { id, if_match: None }
    }

    fn pinned(id: UserId, if_match: IfMatch) -> UserChange {
        UserChange {
            id,
            if_match: Some(if_match),
        }
    }

    fn deleted(users: &InMemoryUsers, email: &str) -> User {
        let mut gone = user_with_email(email);
        gone.delete().unwrap();
        users.add(gone)
    }

    fn suspended(users: &InMemoryUsers, email: &str) -> User {
        let mut user = user_with_email(email);
        user.suspend().unwrap();
        users.add(user)
    }

    // Suspend

    #[tokio::test]
    async fn an_active_user_is_suspended_at_a_new_version() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let suspended = change(&users, Transition::Suspend)
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        assert_eq!(suspended.status(), UserStatus::Suspended);
        assert_eq!(suspended.version(), Version::new(2));
        assert_eq!(users.stored(ada.id()), Some(suspended));
    }

    #[tokio::test]
    async fn suspending_twice_is_a_no_op_that_writes_nothing() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let suspend = change(&users, Transition::Suspend);
        let first = suspend
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        let second = suspend
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(users.stored(ada.id()).unwrap().version(), Version::new(2));
    }

    #[tokio::test]
    async fn suspending_a_deleted_user_is_a_conflict_and_an_unknown_one_is_not_found() {
        let users = InMemoryUsers::default();
        let gone = deleted(&users, "gone@example.com");
        let suspend = change(&users, Transition::Suspend);
        assert!(matches!(
            suspend.execute(&users.admin_caller(), of(gone.id())).await,
            Err(UserChangeError::Deleted(Transition::Suspend))
        ));
        assert!(matches!(
            suspend
                .execute(&users.admin_caller(), of(UserId::generate()))
                .await,
            Err(UserChangeError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_write_that_loses_a_race_is_retried_from_a_fresh_read() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        users.conflict_on_next_updates(1);
        let suspended = change(&users, Transition::Suspend)
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        assert_eq!(suspended.status(), UserStatus::Suspended);
    }

    #[tokio::test]
    async fn endless_races_give_up_without_changing_anything() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        users.conflict_on_next_updates(10);
        let result = change(&users, Transition::Suspend)
            .execute(&users.admin_caller(), of(ada.id()))
            .await;
        assert!(matches!(result, Err(UserChangeError::Contended)));
        assert_eq!(users.stored(ada.id()), Some(ada));
    }

    #[tokio::test]
    async fn suspending_and_deleting_revoke_the_users_sessions_as_of_now() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let grace = users.add(user_with_email("grace@example.com"));
        let now = FixedClock::default().now();
        let suspended = change(&users, Transition::Suspend)
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        let deleted = change(&users, Transition::Delete)
            .execute(&users.admin_caller(), of(grace.id()))
            .await
            .unwrap();
        for user in [suspended, deleted] {
            assert_eq!(user.sessions_valid_after(), Some(now));
            assert!(!user.session_is_valid(Timestamp::from_millis(1_000).unwrap()));
        }
    }

    #[tokio::test]
    async fn the_last_active_admin_cannot_suspend_or_delete_itself_and_the_refusal_is_audited() {
        let (lines, _guard) = AuditLines::capture();
        let users = InMemoryUsers::default();
        let last = users.admin_caller();
        let id = last.user_id().unwrap();
        for transition in [Transition::Suspend, Transition::Delete] {
            let refused = change(&users, transition).execute(&last, of(id)).await;
            assert!(
                matches!(refused, Err(UserChangeError::LastAdmin)),
                "{transition:?}: {refused:?}"
            );
        }
        assert!(users.stored(id).unwrap().is_active_admin());
        let recorded = lines.take();
        let events = events_of(&recorded);
        assert!(events.contains(&("last_admin", "denied")), "{events:?}");

        let another = users.admin_caller();
        change(&users, Transition::Suspend)
            .execute(&another, of(id))
            .await
            .expect("with another active admin, the former last one may be suspended");
    }

    // Activate

    #[tokio::test]
    async fn a_suspended_user_becomes_active_again() {
        let users = InMemoryUsers::default();
        let ada = suspended(&users, "ada@example.com");
        let active = change(&users, Transition::Activate)
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        assert_eq!(active.status(), UserStatus::Active);
        assert_eq!(users.stored(ada.id()), Some(active));
    }

    #[tokio::test]
    async fn activating_an_active_user_is_a_no_op() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let same = change(&users, Transition::Activate)
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        assert_eq!(same, ada);
        assert_eq!(users.stored(ada.id()).unwrap().version(), Version::FIRST);
    }

    #[tokio::test]
    async fn a_deleted_user_cannot_come_back() {
        let users = InMemoryUsers::default();
        let gone = deleted(&users, "gone@example.com");
        let result = change(&users, Transition::Activate)
            .execute(&users.admin_caller(), of(gone.id()))
            .await;
        assert!(matches!(
            result,
            Err(UserChangeError::Deleted(Transition::Activate))
        ));
        assert_eq!(
            users.stored(gone.id()).unwrap().status(),
            UserStatus::Deleted
        );
    }

    // Delete

    #[tokio::test]
    async fn a_deleted_user_stays_stored_and_releases_the_email() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        change(&users, Transition::Delete)
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();

        assert_eq!(
            users.stored(ada.id()).unwrap().status(),
            UserStatus::Deleted
        );
        let newcomer = user_with_email("ADA@example.com");
        assert!(
            users.insert(&newcomer, &Outgoing::nothing()).await.is_ok(),
            "the address is free again"
        );
    }

    #[tokio::test]
    async fn deleting_twice_or_an_unknown_user_is_not_found() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let delete = change(&users, Transition::Delete);
        delete
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        assert!(matches!(
            delete.execute(&users.admin_caller(), of(ada.id())).await,
            Err(UserChangeError::NotFound)
        ));
        assert!(matches!(
            delete
                .execute(&users.admin_caller(), of(UserId::generate()))
                .await,
            Err(UserChangeError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_stale_if_match_deletes_nothing_and_a_current_one_deletes() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let delete = change(&users, Transition::Delete);
        let stale = IfMatch::OneOf(vec![Version::new(9)]);
        assert!(matches!(
            delete
                .execute(&users.admin_caller(), pinned(ada.id(), stale))
                .await,
            Err(UserChangeError::PreconditionFailed)
        ));
        assert_eq!(users.stored(ada.id()).unwrap().status(), UserStatus::Active);
        let current = IfMatch::OneOf(vec![ada.version()]);
        assert!(
            delete
                .execute(&users.admin_caller(), pinned(ada.id(), current))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn the_email_of_a_live_user_stays_claimed() {
        let users = InMemoryUsers::default();
        users.add(user_with_email("ada@example.com"));
        let result = users
            .insert(&user_with_email("ada@example.com"), &Outgoing::nothing())
            .await;
        assert!(matches!(result, Err(InsertUserError::EmailTaken)));
    }

    // Record a login

    #[tokio::test]
    async fn a_login_is_stamped_with_the_clock() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let user = change(&users, Transition::RecordLogin)
            .execute(&users.admin_caller(), of(ada.id()))
            .await
            .unwrap();
        assert_eq!(user.last_login(), Some(FixedClock::default().now()));
        assert_eq!(users.stored(ada.id()), Some(user));
    }

    #[tokio::test]
    async fn a_suspended_user_is_refused_and_keeps_no_login() {
        let users = InMemoryUsers::default();
        let ada = suspended(&users, "ada@example.com");
        let result = change(&users, Transition::RecordLogin)
            .execute(&users.admin_caller(), of(ada.id()))
            .await;
        assert!(matches!(
            result,
            Err(UserChangeError::NotAllowed {
                status: UserStatus::Suspended
            })
        ));
        assert_eq!(users.stored(ada.id()).unwrap().last_login(), None);
    }

    #[tokio::test]
    async fn a_login_of_a_deleted_or_unknown_user_is_not_found() {
        let users = InMemoryUsers::default();
        let gone = deleted(&users, "gone@example.com");
        let record = change(&users, Transition::RecordLogin);
        assert!(matches!(
            record.execute(&users.admin_caller(), of(gone.id())).await,
            Err(UserChangeError::NotFound)
        ));
        assert!(matches!(
            record
                .execute(&users.admin_caller(), of(UserId::generate()))
                .await,
            Err(UserChangeError::NotFound)
        ));
    }
}
