use crate::messages;
use crate::ports::{
    Clock, EmailSender, IdGenerator, InsertUserError, RepositoryError, UserRepository,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{Email, User, UserName};

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: UserName,
}

command!(NewUser => User, CreateUserError);

#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("the email address is already registered")]
    EmailTaken,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Registers a user under a unique email address and sends a welcome email.
pub struct CreateUser<R, M, C, I> {
    users: R,
    mailer: M,
    clock: C,
    ids: I,
}

impl<R, M, C, I> CreateUser<R, M, C, I> {
    pub fn new(users: R, mailer: M, clock: C, ids: I) -> Self {
        Self {
            users,
            mailer,
            clock,
            ids,
        }
    }
}

impl<R, M, C, I> UseCase<NewUser> for CreateUser<R, M, C, I>
where
    R: UserRepository,
    M: EmailSender,
    C: Clock,
    I: IdGenerator,
{
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(&self, _caller: &Caller, command: NewUser) -> Result<User, CreateUserError> {
        let user = User::register(
            self.ids.new_user_id(),
            command.email,
            command.name,
            self.clock.now(),
        );
        self.users
            .insert(&user)
            .await
            .map_err(|error| match error {
                InsertUserError::EmailTaken => CreateUserError::EmailTaken,
                InsertUserError::Repository(error) => CreateUserError::Repository(error),
            })?;
        // The user exists now; a mail outage must not turn that into a failure.
        if let Err(error) = self.mailer.send(&messages::welcome(&user)).await {
            tracing::warn!(user_id = %user.id(), error = %crate::error_chain(&error), "welcome email not sent");
        }
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::admin_caller;
    use crate::fakes::{FixedClock, InMemoryUsers, RecordingMailer, SequentialIds};
    use domain::UserStatus;

    fn new_user(email: &str) -> NewUser {
        NewUser {
            email: Email::parse(email).unwrap(),
            name: UserName::parse("Ada Lovelace").unwrap(),
        }
    }

    fn use_case(
        users: &InMemoryUsers,
        mailer: &RecordingMailer,
    ) -> CreateUser<InMemoryUsers, RecordingMailer, FixedClock, SequentialIds> {
        CreateUser::new(
            users.clone(),
            mailer.clone(),
            FixedClock::default(),
            SequentialIds,
        )
    }

    #[tokio::test]
    async fn a_new_user_is_stored_active_and_welcomed() {
        let (users, mailer) = (InMemoryUsers::default(), RecordingMailer::default());
        let user = use_case(&users, &mailer)
            .execute(&admin_caller(), new_user("ada@example.com"))
            .await
            .unwrap();

        assert_eq!(user.status(), UserStatus::Active);
        assert_eq!(users.stored(user.id()), Some(user.clone()));
        let sent = mailer.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to.as_str(), "ada@example.com");
        assert!(sent[0].text.contains("Ada Lovelace"));
    }

    #[tokio::test]
    async fn an_address_that_differs_only_in_case_is_taken() {
        let (users, mailer) = (InMemoryUsers::default(), RecordingMailer::default());
        let create = use_case(&users, &mailer);
        create
            .execute(&admin_caller(), new_user("ada@example.com"))
            .await
            .unwrap();

        let second = create
            .execute(&admin_caller(), new_user("ADA@Example.com"))
            .await;
        assert!(matches!(second, Err(CreateUserError::EmailTaken)));
        assert_eq!(users.count(), 1);
        assert_eq!(
            mailer.sent().len(),
            1,
            "no welcome email for a refused registration"
        );
    }

    #[tokio::test]
    async fn a_failing_mail_service_does_not_fail_the_registration() {
        let users = InMemoryUsers::default();
        let mailer = RecordingMailer::failing();
        let user = use_case(&users, &mailer)
            .execute(&admin_caller(), new_user("ada@example.com"))
            .await
            .unwrap();
        assert_eq!(users.stored(user.id()), Some(user));
    }

    #[tokio::test]
    async fn a_store_outage_is_reported_and_sends_no_email() {
        let users = InMemoryUsers::unavailable();
        let mailer = RecordingMailer::default();
        let result = use_case(&users, &mailer)
            .execute(&admin_caller(), new_user("ada@example.com"))
            .await;
        assert!(matches!(
            result,
            Err(CreateUserError::Repository(RepositoryError::Unavailable(_)))
        ));
        assert!(mailer.sent().is_empty());
    }
}
