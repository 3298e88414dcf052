use super::modify::{ModifyError, modify_user};
use crate::ports::{IfMatch, RepositoryError, UserRepository};
use domain::{Changed, UserId, UserIsDeleted};

#[derive(Debug, thiserror::Error)]
pub enum DeleteUserError {
    /// Unknown, or deleted already.
    #[error("no such user")]
    NotFound,
    #[error("the user has changed since the version named in If-Match")]
    PreconditionFailed,
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

    /// `if_match`: the version the client expects, when it sent `If-Match`.
    pub async fn execute(
        &self,
        id: UserId,
        if_match: Option<&IfMatch>,
    ) -> Result<(), DeleteUserError> {
        let delete = |user: &mut domain::User| user.delete().map(|()| Changed::Yes);
        match modify_user(&self.users, id, if_match, delete).await {
            Ok(_) => Ok(()),
            Err(ModifyError::NotFound | ModifyError::Refused(UserIsDeleted)) => {
                Err(DeleteUserError::NotFound)
            }
            Err(ModifyError::Repository(error)) => Err(DeleteUserError::Repository(error)),
            Err(ModifyError::PreconditionFailed) => Err(DeleteUserError::PreconditionFailed),
            Err(ModifyError::Contended | ModifyError::EmailTaken) => {
                Err(DeleteUserError::Contended)
            }
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
            .execute(ada.id(), None)
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
        delete.execute(ada.id(), None).await.unwrap();
        assert!(matches!(
            delete.execute(ada.id(), None).await,
            Err(DeleteUserError::NotFound)
        ));
        assert!(matches!(
            delete.execute(UserId::generate(), None).await,
            Err(DeleteUserError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_stale_if_match_deletes_nothing_and_a_current_one_deletes() {
        use crate::ports::IfMatch;
        use domain::Version;
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let delete = DeleteUser::new(users.clone());
        let stale = IfMatch::OneOf(vec![Version::new(9)]);
        assert!(matches!(
            delete.execute(ada.id(), Some(&stale)).await,
            Err(DeleteUserError::PreconditionFailed)
        ));
        assert_eq!(users.stored(ada.id()).unwrap().status(), UserStatus::Active);
        let current = IfMatch::OneOf(vec![ada.version()]);
        assert!(delete.execute(ada.id(), Some(&current)).await.is_ok());
    }

    #[tokio::test]
    async fn the_email_of_a_live_user_stays_claimed() {
        let users = InMemoryUsers::default();
        users.add(user_with_email("ada@example.com"));
        let result = users.insert(&user_with_email("ada@example.com")).await;
        assert!(matches!(result, Err(InsertUserError::EmailTaken)));
    }
}
