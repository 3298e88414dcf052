use super::modify::{ModifyError, modify_user};
use crate::ports::{IfMatch, RepositoryError, UserRepository};
use domain::{User, UserId, UserIsDeleted};

#[derive(Debug, thiserror::Error)]
pub enum ActivateUserError {
    #[error("no such user")]
    NotFound,
    #[error("a deleted user cannot be activated")]
    Deleted,
    #[error("the user has changed since the version named in If-Match")]
    PreconditionFailed,
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Activates a user; activating an active user changes nothing.
pub struct ActivateUser<R> {
    users: R,
}

impl<R: UserRepository> ActivateUser<R> {
    pub fn new(users: R) -> Self {
        Self { users }
    }

    /// `if_match`: the version the client expects, when it sent `If-Match`.
    pub async fn execute(
        &self,
        id: UserId,
        if_match: Option<&IfMatch>,
    ) -> Result<User, ActivateUserError> {
        modify_user(&self.users, id, if_match, User::activate)
            .await
            .map_err(|error| match error {
                ModifyError::NotFound => ActivateUserError::NotFound,
                ModifyError::Refused(UserIsDeleted) => ActivateUserError::Deleted,
                ModifyError::Repository(error) => ActivateUserError::Repository(error),
                ModifyError::PreconditionFailed => ActivateUserError::PreconditionFailed,
                ModifyError::Contended | ModifyError::EmailTaken => ActivateUserError::Contended,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{InMemoryUsers, user_with_email};
    use domain::{UserStatus, Version};

    #[tokio::test]
    async fn a_suspended_user_becomes_active_again() {
        let users = InMemoryUsers::default();
        let mut ada = user_with_email("ada@example.com");
        ada.suspend().unwrap();
        let ada = users.add(ada);
        let active = ActivateUser::new(users.clone())
            .execute(ada.id(), None)
            .await
            .unwrap();
        assert_eq!(active.status(), UserStatus::Active);
        assert_eq!(users.stored(ada.id()), Some(active));
    }

    #[tokio::test]
    async fn activating_an_active_user_is_a_no_op() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let same = ActivateUser::new(users.clone())
            .execute(ada.id(), None)
            .await
            .unwrap();
        assert_eq!(same, ada);
        assert_eq!(users.stored(ada.id()).unwrap().version(), Version::FIRST);
    }

    #[tokio::test]
    async fn a_deleted_user_cannot_come_back() {
        let users = InMemoryUsers::default();
        let mut gone = user_with_email("gone@example.com");
        gone.delete().unwrap();
        let gone = users.add(gone);
        let result = ActivateUser::new(users.clone())
            .execute(gone.id(), None)
            .await;
        assert!(matches!(result, Err(ActivateUserError::Deleted)));
        assert_eq!(
            users.stored(gone.id()).unwrap().status(),
            UserStatus::Deleted
        );
    }
}
