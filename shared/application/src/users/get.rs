use crate::ports::{RepositoryError, UserRepository};
use crate::standing::read_for;
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{User, UserId};

/// Read one user by id.
#[derive(Debug, Clone)]
pub struct UserLookup {
    pub id: UserId,
}

command!(UserLookup => User, GetUserError; subject = id);

#[derive(Debug, thiserror::Error)]
pub enum GetUserError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown, or not active: only active users are readable.
    #[error("no such user")]
    NotFound,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Reads an active user.
pub struct GetUser<R> {
    users: R,
}

impl<R: UserRepository> GetUser<R> {
    pub fn new(users: R) -> Self {
        Self { users }
    }
}

impl<R: UserRepository> UseCase<UserLookup> for GetUser<R> {
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    async fn run(&self, caller: &Caller, command: UserLookup) -> Result<User, GetUserError> {
        let user =
            read_for::<R, GetUserError>(&self.users, caller, self.policy(), Some(command.id));
        match user.await? {
            Some(user) if user.can_login() => Ok(user),
            _ => Err(GetUserError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{InMemoryUsers, user_with_email};

    #[tokio::test]
    async fn an_active_user_is_returned() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        assert_eq!(
            GetUser::new(users.clone())
                .execute(&users.admin_caller(), UserLookup { id: ada.id() })
                .await
                .unwrap(),
            ada
        );
    }

    #[tokio::test]
    async fn unknown_suspended_and_deleted_users_are_not_found() {
        let users = InMemoryUsers::default();
        let mut suspended = user_with_email("s@example.com");
        suspended.suspend().unwrap();
        let suspended = users.add(suspended);
        let mut deleted = user_with_email("d@example.com");
        deleted.delete().unwrap();
        let deleted = users.add(deleted);
        let get = GetUser::new(users.clone());

        for id in [suspended.id(), deleted.id(), UserId::generate()] {
            assert!(matches!(
                get.execute(&users.admin_caller(), UserLookup { id }).await,
                Err(GetUserError::NotFound)
            ));
        }
    }
}
