//! `PUT /users/{id}/role`: an administrator gives a user a role. A change revokes the user's
//! sessions, so a demoted admin's tokens stop working at once on every route that reads the
//! account, and the new role comes with the next sign-in.

use super::UserChangeError;
use super::modify::{ChangeOf, modify_user};
use crate::ports::{Clock, IfMatch, UserRepository};
use crate::{Caller, Policy, UseCase, command};
use domain::{Changed, Role, User, UserId, UserIsDeleted};

#[derive(Debug, Clone)]
pub struct RoleChange {
    pub id: UserId,
    pub role: Role,
    pub if_match: Option<IfMatch>,
}

command!(RoleChange => User, UserChangeError; subject = id);

pub struct ChangeRole<R, C> {
    users: R,
    clock: C,
}

impl<R, C> ChangeRole<R, C> {
    pub fn new(users: R, clock: C) -> Self {
        Self { users, clock }
    }
}

impl<R: UserRepository, C: Clock> UseCase<RoleChange> for ChangeRole<R, C> {
    fn policy(&self) -> Policy {
        Policy::Admin
    }

    fn audit_event(&self, _caller: &Caller) -> Option<&'static str> {
        Some("role_change")
    }

    async fn run(&self, caller: &Caller, command: RoleChange) -> Result<User, UserChangeError> {
        // An admin who demotes itself could leave the service without one.
        if caller.user_id() == Some(command.id) {
            return Err(UserChangeError::OwnRole);
        }
        let now = self.clock.now();
        let change = |user: &mut User| {
            let changed = user
                .change_role(command.role)
                .map_err(|UserIsDeleted| UserChangeError::NotFound)?;
            if changed == Changed::Yes {
                user.revoke_sessions(now);
            }
            Ok(changed)
        };
        let of = ChangeOf {
            caller,
            policy: self.policy(),
            id: command.id,
        };
        modify_user(&self.users, of, command.if_match.as_ref(), change).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Denied;
    use crate::fakes::{FixedClock, InMemoryUsers, user_with_email};

    fn to(id: UserId, role: Role) -> RoleChange {
        RoleChange {
            id,
            role,
            if_match: None,
        }
    }

    #[tokio::test]
    async fn an_admin_promotes_a_user_and_a_user_may_not() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let change = ChangeRole::new(users.clone(), FixedClock::default());
        let refused = change
            .execute(&users.sign_in(&ada), to(ada.id(), Role::Admin))
            .await;
        assert!(matches!(
            refused,
            Err(UserChangeError::Denied(Denied::Forbidden))
        ));
        let promoted = change
            .execute(&users.admin_caller(), to(ada.id(), Role::Admin))
            .await
            .unwrap();
        assert_eq!(promoted.role(), Role::Admin);
        assert_eq!(users.stored(ada.id()), Some(promoted));
    }

    #[tokio::test]
    async fn an_admin_cannot_change_its_own_role_and_deleted_users_are_not_found() {
        let users = InMemoryUsers::default();
        let mut root = user_with_email("root@example.com");
        root.change_role(Role::Admin).unwrap();
        let root = users.add(root);
        let change = ChangeRole::new(users.clone(), FixedClock::default());
        let own = change
            .execute(&users.sign_in(&root), to(root.id(), Role::User))
            .await;
        assert!(matches!(own, Err(UserChangeError::OwnRole)));
        let mut gone = user_with_email("gone@example.com");
        gone.delete().unwrap();
        let gone = users.add(gone);
        let result = change
            .execute(&users.sign_in(&root), to(gone.id(), Role::Admin))
            .await;
        assert!(matches!(result, Err(UserChangeError::NotFound)));
    }

    #[tokio::test]
    async fn a_role_change_ends_the_users_sessions_and_their_tokens_at_once() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let ada_calling = users.sign_in(&ada);
        let admin = users.admin_caller();
        let change = ChangeRole::new(users.clone(), FixedClock::default());
        let promoted = change
            .execute(&admin, to(ada.id(), Role::Admin))
            .await
            .unwrap();
        assert_eq!(
            promoted.sessions_valid_after(),
            Some(FixedClock::default().now())
        );
        let with_old_token = change.execute(&ada_calling, to(ada.id(), Role::User)).await;
        assert!(
            matches!(
                with_old_token,
                Err(UserChangeError::Denied(Denied::Forbidden))
            ),
            "a user's token stays a user's token"
        );
    }

    #[tokio::test]
    async fn a_demoted_admins_token_is_refused_at_once_and_so_is_a_deleted_ones() {
        let users = InMemoryUsers::default();
        let first = users.admin_caller();
        let second = users.admin_caller();
        let ada = users.add(user_with_email("ada@example.com"));
        let change = ChangeRole::new(users.clone(), FixedClock::default());
        change
            .execute(&first, to(second.user_id().unwrap(), Role::User))
            .await
            .unwrap();
        let refused = change.execute(&second, to(ada.id(), Role::Admin)).await;
        assert!(matches!(
            refused,
            Err(UserChangeError::Denied(Denied::Revoked))
        ));
        assert_eq!(users.stored(ada.id()).unwrap().role(), Role::User);
        let stranger = crate::fakes::admin_caller();
        let unknown = change.execute(&stranger, to(ada.id(), Role::Admin)).await;
        assert!(
            matches!(unknown, Err(UserChangeError::Denied(Denied::Revoked))),
            "a token whose account is not stored"
        );
    }

    #[tokio::test]
    async fn of_two_admins_demoting_each_other_at_once_one_stays() {
        let users = InMemoryUsers::default();
        let (first, second) = (users.admin_caller(), users.admin_caller());
        let change = ChangeRole::new(users.clone(), FixedClock::default());
        let (one, other) = futures::join!(
            change.execute(&first, to(second.user_id().unwrap(), Role::User)),
            change.execute(&second, to(first.user_id().unwrap(), Role::User)),
        );
        let refused = |outcome: &Result<User, UserChangeError>| {
            matches!(
                outcome,
                Err(UserChangeError::LastAdmin | UserChangeError::Denied(Denied::Revoked))
            )
        };
        assert!(one.is_ok() != other.is_ok(), "{one:?} / {other:?}");
        assert!(refused(&one) || refused(&other));
        let admins = [first, second]
            .iter()
            .filter_map(|caller| users.stored(caller.user_id().unwrap()))
            .filter(User::is_active_admin)
            .count();
        assert_eq!(admins, 1);
    }
}
