use super::modify::{ModifyError, modify_user};
use crate::ports::{IfMatch, RepositoryError, UserRepository};
use domain::{User, UserId, UserIsDeleted};

#[derive(Debug, thiserror::Error)]
pub enum SuspendUserError {
    #[error("no such user")]
    NotFound,
    #[error("a deleted user cannot be suspended")]
    Deleted,
    #[error("the user has changed since the version named in If-Match")]
    PreconditionFailed,
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Suspends a user; suspending a suspended user changes nothing.
pub struct SuspendUser<R> {
    users: R,
}

impl<R: UserRepository> SuspendUser<R> {
    pub fn new(users: R) -> Self {
        Self { users }
    }

    /// `if_match`: the version the client expects, when it sent `If-Match`.
    pub async fn execute(
        &self,
        id: UserId,
        if_match: Option<&IfMatch>,
    ) -> Result<User, SuspendUserError> {
        modify_user(&self.users, id, if_match, User::suspend)
            .await
            .map_err(|error| match error {
                ModifyError::NotFound => SuspendUserError::NotFound,
                ModifyError::Refused(UserIsDeleted) => SuspendUserError::Deleted,
                ModifyError::Repository(error) => SuspendUserError::Repository(error),
                ModifyError::PreconditionFailed => SuspendUserError::PreconditionFailed,
                ModifyError::Contended | ModifyError::EmailTaken => SuspendUserError::Contended,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{InMemoryUsers, user_with_email};
    use domain::{UserStatus, Version};

    #[tokio::test]
    async fn an_active_user_is_suspended_at_a_new_version() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let suspended = SuspendUser::new(users.clone())
            .execute(ada.id(), None)
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
        let suspend = SuspendUser::new(users.clone());
        let first = suspend.execute(ada.id(), None).await.unwrap();
        let second = suspend.execute(ada.id(), None).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(users.stored(ada.id()).unwrap().version(), Version::new(2));
    }

    #[tokio::test]
    async fn a_deleted_user_is_a_conflict_and_an_unknown_one_is_not_found() {
        let users = InMemoryUsers::default();
        let mut gone = user_with_email("gone@example.com");
        gone.delete().unwrap();
        let gone = users.add(gone);
        let suspend = SuspendUser::new(users);
        assert!(matches!(
            suspend.execute(gone.id(), None).await,
            Err(SuspendUserError::Deleted)
        ));
        assert!(matches!(
            suspend.execute(UserId::generate(), None).await,
            Err(SuspendUserError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_write_that_loses_a_race_is_retried_from_a_fresh_read() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        users.conflict_on_next_updates(1);
        let suspended = SuspendUser::new(users.clone())
            .execute(ada.id(), None)
            .await
            .unwrap();
        assert_eq!(suspended.status(), UserStatus::Suspended);
    }

    #[tokio::test]
    async fn endless_races_give_up_without_changing_anything() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        users.conflict_on_next_updates(10);
        let result = SuspendUser::new(users.clone())
            .execute(ada.id(), None)
            .await;
        assert!(matches!(result, Err(SuspendUserError::Contended)));
        assert_eq!(users.stored(ada.id()), Some(ada));
    }
}
