use crate::messages;
use crate::ports::{
    Clock, DomainEvent, IdGenerator, InsertUserError, Outgoing, RepositoryError, UserRepository,
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
pub struct CreateUser<R, C, I> {
    users: R,
    clock: C,
    ids: I,
}

impl<R, C, I> CreateUser<R, C, I> {
    pub fn new(users: R, clock: C, ids: I) -> Self {
        Self { users, clock, ids }
    }
}

impl<R, C, I> UseCase<NewUser> for CreateUser<R, C, I>
where
    R: UserRepository,
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
        // The welcome email is recorded with the user, and sent by the mailer afterwards.
        self.users
            .insert(
                &user,
                &Outgoing::email(messages::welcome(&user)).and([DomainEvent::registered(&user)]),
            )
            .await
            .map_err(|error| match error {
                InsertUserError::EmailTaken => CreateUserError::EmailTaken,
                InsertUserError::Repository(error) => CreateUserError::Repository(error),
            })?;
        // The user exists now; a mail outage must not turn that into a failure.
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::admin_caller;
    use crate::fakes::{FixedClock, InMemoryUsers, SequentialIds};
    use domain::UserStatus;

    fn new_user(email: &str) -> NewUser {
        NewUser {
            email: Email::parse(email).unwrap(),
            name: UserName::parse("Ada Lovelace").unwrap(),
        }
    }

    fn use_case(users: &InMemoryUsers) -> CreateUser<InMemoryUsers, FixedClock, SequentialIds> {
        CreateUser::new(users.clone(), FixedClock::default(), SequentialIds)
    }

    #[tokio::test]
    async fn a_new_user_is_stored_active_with_its_welcome_email_recorded() {
        let users = InMemoryUsers::default();
        let user = use_case(&users)
            .execute(&admin_caller(), new_user("ada@example.com"))
            .await
            .unwrap();

        assert_eq!(user.status(), UserStatus::Active);
        assert_eq!(users.stored(user.id()), Some(user.clone()));
        let recorded = users.outbox().emails();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].to.as_str(), "ada@example.com");
        assert!(
            !recorded[0].text.contains("Ada"),
            "nothing the requester chose goes to an address nobody proved"
        );
        let events = users.outbox().events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].change.detail_type(), "UserRegistered");
        assert_eq!(
            (events[0].user_id, events[0].version),
            (user.id(), user.version())
        );
    }

    #[tokio::test]
    async fn an_address_that_differs_only_in_case_is_taken_and_records_no_email() {
        let users = InMemoryUsers::default();
        let create = use_case(&users);
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
            users.outbox().emails().len(),
            1,
            "no welcome email for a refused registration"
        );
    }

    #[tokio::test]
    async fn a_store_outage_is_reported_and_records_no_email() {
        let users = InMemoryUsers::unavailable();
        let result = use_case(&users)
            .execute(&admin_caller(), new_user("ada@example.com"))
            .await;
        assert!(matches!(
            result,
            Err(CreateUserError::Repository(RepositoryError::Unavailable(_)))
        ));
        assert!(users.outbox().emails().is_empty());
    }
}
