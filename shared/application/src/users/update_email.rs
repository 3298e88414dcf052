use super::UserChangeError;
use super::modify::modify_user;
use crate::ports::{IfMatch, UserRepository};
use crate::{Caller, Policy, UseCase, command};
use domain::{Email, User, UserId, UserIsDeleted};

#[derive(Debug, Clone)]
pub struct ChangeEmail {
    pub id: UserId,
    pub email: Email,
    /// The `If-Match` precondition, when the client sent one.
    pub if_match: Option<IfMatch>,
}

command!(ChangeEmail => User, UserChangeError; subject = id);

/// Moves a user to a new, unclaimed email address and frees the old one.
pub struct UpdateUserEmail<R> {
    users: R,
}

impl<R: UserRepository> UpdateUserEmail<R> {
    pub fn new(users: R) -> Self {
        Self { users }
    }
}

impl<R: UserRepository> UseCase<ChangeEmail> for UpdateUserEmail<R> {
    fn policy(&self) -> Policy {
        Policy::SelfOrAdmin
    }

    async fn run(&self, _caller: &Caller, command: ChangeEmail) -> Result<User, UserChangeError> {
        let ChangeEmail {
            id,
            email,
            if_match,
        } = command;
        // A deleted user has no address to change: as unknown as any other.
        let change = |user: &mut User| {
            user.change_email(email.clone())
                .map_err(|UserIsDeleted| UserChangeError::NotFound)
        };
        modify_user(&self.users, id, if_match.as_ref(), change).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::admin_caller;
    use crate::fakes::{InMemoryUsers, user_with_email};
    use crate::ports::UserRepository;
    use domain::Version;

    fn change(id: UserId, email: &str, if_match: Option<IfMatch>) -> ChangeEmail {
        ChangeEmail {
            id,
            email: Email::parse(email).unwrap(),
            if_match,
        }
    }

    #[tokio::test]
    async fn the_new_address_is_claimed_and_the_old_one_released() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let update = UpdateUserEmail::new(users.clone());
        let moved = update
            .execute(&admin_caller(), change(ada.id(), "ada@lovelace.org", None))
            .await
            .unwrap();

        assert_eq!(moved.email().as_str(), "ada@lovelace.org");
        assert_eq!(moved.version(), Version::new(2));
        assert!(
            users
                .insert(&user_with_email("ada@example.com"))
                .await
                .is_ok()
        );
        assert!(
            users
                .insert(&user_with_email("ADA@lovelace.org"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_address_held_by_another_user_is_taken() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        users.add(user_with_email("grace@example.com"));
        let result = UpdateUserEmail::new(users.clone())
            .execute(&admin_caller(), change(ada.id(), "Grace@Example.com", None))
            .await;
        assert!(matches!(result, Err(UserChangeError::EmailTaken)));
        assert_eq!(users.stored(ada.id()), Some(ada));
    }

    #[tokio::test]
    async fn the_same_address_again_is_a_no_op() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let same = UpdateUserEmail::new(users.clone())
            .execute(&admin_caller(), change(ada.id(), "ada@example.com", None))
            .await
            .unwrap();
        assert_eq!(same, ada);
    }

    #[tokio::test]
    async fn a_stale_if_match_fails_and_a_current_one_succeeds() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let update = UpdateUserEmail::new(users.clone());
        let stale = Some(IfMatch::OneOf(vec![Version::new(7)]));
        let result = update
            .execute(&admin_caller(), change(ada.id(), "new@example.com", stale))
            .await;
        assert!(matches!(result, Err(UserChangeError::PreconditionFailed)));

        let current = Some(IfMatch::OneOf(vec![ada.version()]));
        assert!(
            update
                .execute(
                    &admin_caller(),
                    change(ada.id(), "new@example.com", current)
                )
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_race_lost_under_if_match_is_a_failed_precondition_not_a_retry() {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        users.conflict_on_next_updates(1);
        let result = UpdateUserEmail::new(users.clone())
            .execute(
                &admin_caller(),
                change(ada.id(), "new@example.com", Some(IfMatch::Any)),
            )
            .await;
        assert!(matches!(result, Err(UserChangeError::PreconditionFailed)));
    }

    #[tokio::test]
    async fn deleted_and_unknown_users_are_not_found() {
        let users = InMemoryUsers::default();
        let mut gone = user_with_email("gone@example.com");
        gone.delete().unwrap();
        let gone = users.add(gone);
        let update = UpdateUserEmail::new(users);
        for id in [gone.id(), UserId::generate()] {
            let result = update
                .execute(&admin_caller(), change(id, "x@example.com", None))
                .await;
            assert!(matches!(result, Err(UserChangeError::NotFound)));
        }
    }
}
