use super::modify::{ModifyError, modify_user};
use crate::ports::{Clock, IfMatch, RepositoryError, UserRepository};
use domain::{Changed, LoginRefused, User, UserId, UserStatus};

#[derive(Debug, thiserror::Error)]
pub enum RecordLoginError {
    /// Unknown, or deleted.
    #[error("no such user")]
    NotFound,
    #[error("a {status} user cannot log in")]
    NotAllowed { status: UserStatus },
    #[error("the user has changed since the version named in If-Match")]
    PreconditionFailed,
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Records that a user logged in now.
pub struct RecordLogin<R, C> {
    users: R,
    clock: C,
}

impl<R: UserRepository, C: Clock> RecordLogin<R, C> {
    pub fn new(users: R, clock: C) -> Self {
        Self { users, clock }
    }

    /// `if_match`: the version the client expects, when it sent `If-Match`.
    pub async fn execute(
        &self,
        id: UserId,
        if_match: Option<&IfMatch>,
    ) -> Result<User, RecordLoginError> {
        let now = self.clock.now();
        let record = |user: &mut User| {
            if user.is_deleted() {
                return Err(None);
            }
            user.record_login(now).map(|()| Changed::Yes).map_err(Some)
        };
        modify_user(&self.users, id, if_match, record)
            .await
            .map_err(|error| match error {
                ModifyError::NotFound | ModifyError::Refused(None) => RecordLoginError::NotFound,
                ModifyError::Refused(Some(LoginRefused { status })) => {
                    RecordLoginError::NotAllowed { status }
                }
                ModifyError::Repository(error) => RecordLoginError::Repository(error),
                ModifyError::PreconditionFailed => RecordLoginError::PreconditionFailed,
                ModifyError::Contended | ModifyError::EmailTaken => RecordLoginError::Contended,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FixedClock, InMemoryUsers, user_with_email};

    #[tokio::test]
    async fn a_login_is_stamped_with_the_clock() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let clock = FixedClock::default();
        let user = RecordLogin::new(users.clone(), clock.clone())
            .execute(ada.id(), None)
            .await
            .unwrap();
        assert_eq!(user.last_login(), Some(clock.now()));
        assert_eq!(users.stored(ada.id()), Some(user));
    }

    #[tokio::test]
    async fn a_suspended_user_is_refused_and_keeps_no_login() {
        let users = InMemoryUsers::default();
        let mut ada = user_with_email("ada@example.com");
        ada.suspend().unwrap();
        let ada = users.add(ada);
        let result = RecordLogin::new(users.clone(), FixedClock::default())
            .execute(ada.id(), None)
            .await;
        assert!(matches!(
            result,
            Err(RecordLoginError::NotAllowed {
                status: UserStatus::Suspended
            })
        ));
        assert_eq!(users.stored(ada.id()).unwrap().last_login(), None);
    }

    #[tokio::test]
    async fn deleted_and_unknown_users_are_not_found() {
        let users = InMemoryUsers::default();
        let mut gone = user_with_email("gone@example.com");
        gone.delete().unwrap();
        let gone = users.add(gone);
        let record = RecordLogin::new(users, FixedClock::default());
        assert!(matches!(
            record.execute(gone.id(), None).await,
            Err(RecordLoginError::NotFound)
        ));
        assert!(matches!(
            record.execute(UserId::generate(), None).await,
            Err(RecordLoginError::NotFound)
        ));
    }
}
