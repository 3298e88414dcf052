use super::modify::{ModifyError, modify_user};
use crate::ports::{RepositoryError, UserRepository};
use domain::{Changed, UserId, UserIsDeleted};

#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    /// Unknown, or deleted already.
    #[error("no such user")]
    NotFound,
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Soft-deletes a user: the record stays with status `deleted` and its email address is
/// free for a new registration.
pub struct DeleteUser<R> {
    users: R,
}

impl<R: UserRepository> DeleteUser<R> {
    pub fn new(users: R) -> Self {
        Self { users }
    }

    pub async fn execute(&self, id: UserId) -> Result<(), DeleteUserError> {
        let delete = |user: &mut domain::User| user.delete().map(|()| Changed::Yes);
        match modify_user(&self.users, id, None, delete).await {
            Ok(_) => Ok(()),
            Err(ModifyError::NotFound | ModifyError::Refused(UserIsDeleted)) => {
                Err(DeleteUserError::NotFound)
            }
            Err(ModifyError::Repository(error)) => Err(DeleteUserError::Repository(error)),
            Err(
                ModifyError::Contended | ModifyError::EmailTaken | ModifyError::PreconditionFailed,
            ) => Err(DeleteUserError::Contended),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{InMemoryUsers, user_with_email};
    use crate::ports::{InsertUserError, UserRepository};
    use domain::UserStatus;

    #[tokio::test]
    async fn a_deleted_user_stays_stored_and_releases_the_email() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        DeleteUser::new(users.clone())
            .execute(ada.id())
            .await
            .unwrap();

        assert_eq!(
            users.stored(ada.id()).unwrap().status(),
            UserStatus::Deleted
        );
        let newcomer = user_with_email("ADA@example.com");
        assert!(
            users.insert(&newcomer).await.is_ok(),
            "the address is free again"
        );
    }

    #[tokio::test]
    async fn deleting_twice_or_an_unknown_user_is_not_found() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let delete = DeleteUser::new(users.clone());
        delete.execute(ada.id()).await.unwrap();
        assert!(matches!(
            delete.execute(ada.id()).await,
            Err(DeleteUserError::NotFound)
        ));
        assert!(matches!(
            delete.execute(UserId::generate()).await,
            Err(DeleteUserError::NotFound)
        ));
    }

    #[tokio::test]
    async fn the_email_of_a_live_user_stays_claimed() {
        let users = InMemoryUsers::default();
        users.add(user_with_email("ada@example.com"));
        let result = users.insert(&user_with_email("ada@example.com")).await;
        assert!(matches!(result, Err(InsertUserError::EmailTaken)));
    }
}
