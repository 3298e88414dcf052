//! `PUT /users/{id}/role`: an administrator gives a user a role. It takes effect at the
//! user's next refresh, since access tokens are not looked up per request.

use super::UserChangeError;
use super::modify::modify_user;
use crate::ports::{IfMatch, UserRepository};
use crate::{Caller, Policy, UseCase, command};
use domain::{Role, User, UserId, UserIsDeleted};

#[derive(Debug, Clone)]
pub struct RoleChange {
    pub id: UserId,
    pub role: Role,
    pub if_match: Option<IfMatch>,
}

command!(RoleChange => User, UserChangeError; subject = id);

pub struct ChangeRole<R> {
    users: R,
}

impl<R> ChangeRole<R> {
    pub fn new(users: R) -> Self {
        Self { users }
    }
}

impl<R: UserRepository> UseCase<RoleChange> for ChangeRole<R> {
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
        let change = |user: &mut User| {
            user.change_role(command.role)
                .map_err(|UserIsDeleted| UserChangeError::NotFound)
        };
        modify_user(&self.users, command.id, command.if_match.as_ref(), change).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Denied;
    use crate::fakes::{InMemoryUsers, admin_caller, caller_for, user_with_email};

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
        let change = ChangeRole::new(users.clone());
        let refused = change
            .execute(&caller_for(&ada), to(ada.id(), Role::Admin))
            .await;
        assert!(matches!(
            refused,
            Err(UserChangeError::Denied(Denied::Forbidden))
        ));
        let promoted = change
            .execute(&admin_caller(), to(ada.id(), Role::Admin))
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
        let change = ChangeRole::new(users.clone());
        let own = change
            .execute(&caller_for(&root), to(root.id(), Role::User))
            .await;
        assert!(matches!(own, Err(UserChangeError::OwnRole)));
        let mut gone = user_with_email("gone@example.com");
        gone.delete().unwrap();
        let gone = users.add(gone);
        let result = change
            .execute(&caller_for(&root), to(gone.id(), Role::Admin))
            .await;
        assert!(matches!(result, Err(UserChangeError::NotFound)));
    }
}
