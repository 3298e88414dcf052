//! `POST /email-change/confirm`: the token that went to the new address comes back, and the
//! change is made.

use super::update_email::{EMAIL_CHANGE_TOKEN_LIFETIME_SECONDS, notices};
use crate::audit::{self, Outcome};
use crate::ports::{
    ApplyEmailChangeError, Clock, EmailChangeRecord, EmailChangeRepository, Outgoing,
    RepositoryError, ResetTokens, UserRepository,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::User;

pub struct EmailChangeConfirmation {
    pub token: String,
}

command!(EmailChangeConfirmation => User, ConfirmEmailChangeError);

#[derive(Debug, thiserror::Error)]
pub enum ConfirmEmailChangeError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown, used, replaced or expired, or its user can no longer log in: one answer.
    #[error("the token is invalid or has expired")]
    InvalidToken,
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("the user kept changing; try again")]
    Contended,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// How often a change that lost a race with another write to the user is retried.
const ATTEMPTS: usize = 3;

pub struct ConfirmEmailChange<U, T, C> {
    users: U,
    tokens: T,
    clock: C,
}

impl<U, T, C> ConfirmEmailChange<U, T, C> {
    pub fn new(users: U, tokens: T, clock: C) -> Self {
        Self {
            users,
            tokens,
            clock,
        }
    }
}

impl<U, T, C> UseCase<EmailChangeConfirmation> for ConfirmEmailChange<U, T, C>
where
    U: UserRepository + EmailChangeRepository,
    T: ResetTokens,
    C: Clock,
{
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(
        &self,
        _caller: &Caller,
        request: EmailChangeConfirmation,
    ) -> Result<User, ConfirmEmailChangeError> {
        let hash = self.tokens.hash(&request.token);
        let record = self.users.find_email_change(&hash).await?;
        let owner = record.as_ref().map(|record| record.user_id);
        let result = match record {
            Some(record) => self.apply(&record).await,
            None => Err(ConfirmEmailChangeError::InvalidToken),
        };
        audit::record("email_change", Outcome::of(&result), owner, owner);
        result
    }
}

impl<U, T, C> ConfirmEmailChange<U, T, C>
where
    U: UserRepository + EmailChangeRepository,
    C: Clock,
{
    async fn apply(&self, record: &EmailChangeRecord) -> Result<User, ConfirmEmailChangeError> {
        // The store deletes expired tokens late, so expiry is checked here.
        if record.expires_at <= self.clock.now() {
            return Err(ConfirmEmailChangeError::InvalidToken);
        }
        // Asked for before the user's sessions were last revoked (a password reset or change,
        // a suspension, a role change, a sign-out everywhere): void, as a thief's would be.
        let requested_at = record
            .expires_at
            .plus_seconds(-EMAIL_CHANGE_TOKEN_LIFETIME_SECONDS)
            .ok_or(ConfirmEmailChangeError::InvalidToken)?;
        for _ in 0..ATTEMPTS {
            let current = self
                .users
                .find(record.user_id)
                .await?
                .filter(|user| user.can_login() && user.session_is_valid(requested_at))
                .ok_or(ConfirmEmailChangeError::InvalidToken)?;
            let mut updated = current.clone();
            updated
                .change_to_proved_email(record.new_email.clone())
                .map_err(|_deleted| ConfirmEmailChangeError::InvalidToken)?;
            let outbox = Outgoing::of_update(&current, &updated, notices(&current, &updated));
            match self
                .users
                .apply_email_change(record, &current, updated, &outbox)
                .await
            {
                Ok(user) => return Ok(user),
                Err(ApplyEmailChangeError::TokenGone) => {
                    return Err(ConfirmEmailChangeError::InvalidToken);
                }
                Err(ApplyEmailChangeError::EmailTaken) => {
                    return Err(ConfirmEmailChangeError::EmailTaken);
                }
                Err(ApplyEmailChangeError::VersionConflict) => continue,
                Err(ApplyEmailChangeError::Repository(error)) => return Err(error.into()),
            }
        }
        Err(ConfirmEmailChangeError::Contended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{NewPasswordRequest, PasswordResetRequest};
    use crate::fakes::{
        AuditLines, FakeTokens, FixedClock, InMemoryCredentials, InMemoryUsers, user_with_email,
    };
    use crate::ports::Outgoing;
    use crate::users::EmailChange;
    use crate::users::update_email::tests::{change, token_sent_to, update};
    use domain::Password;

    struct World {
        users: InMemoryUsers,
        ada: User,
    }

    impl World {
        fn new() -> Self {
            let users = InMemoryUsers::default();
            let ada = users.add(user_with_email("ada@example.com"));
            Self { users, ada }
        }

        /// Ada asks to move to `to`; the token that went there.
        async fn ask(&self, to: &str) -> String {
            let outcome = update(&self.users)
                .execute(
                    &self.users.sign_in(&self.ada),
                    change(self.ada.id(), to, None),
                )
                .await
                .unwrap();
            assert_eq!(outcome, EmailChange::Requested);
            let token = token_sent_to(&self.users, to);
            self.users.outbox().take();
            token
        }

        fn confirm_at(
            &self,
            clock: FixedClock,
        ) -> ConfirmEmailChange<InMemoryUsers, FakeTokens, FixedClock> {
            ConfirmEmailChange::new(self.users.clone(), FakeTokens, clock)
        }

        async fn confirm(&self, token: &str) -> Result<User, ConfirmEmailChangeError> {
            self.confirm_at(FixedClock::default())
                .execute(
                    &Caller::Anonymous,
                    EmailChangeConfirmation {
                        token: token.to_owned(),
                    },
                )
                .await
        }
    }

    #[tokio::test]
    async fn the_token_moves_the_user_once_verifies_the_address_and_tells_the_old_one() {
        let world = World::new();
        let token = world.ask("ada@lovelace.org").await;
        let moved = world.confirm(&token).await.unwrap();
        assert_eq!(moved.email().as_str(), "ada@lovelace.org");
        assert!(moved.email_verified());
        assert_eq!(world.users.stored(world.ada.id()), Some(moved));
        let sent = world.users.outbox().emails();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].to.as_str(), "ada@example.com");
        assert_eq!(sent[0].subject, "Your email address was changed");

        assert!(matches!(
            world.confirm(&token).await,
            Err(ConfirmEmailChangeError::InvalidToken)
        ));
        assert!(matches!(
            world.confirm("never issued").await,
            Err(ConfirmEmailChangeError::InvalidToken)
        ));
        assert!(
            world
                .users
                .insert(&user_with_email("ada@example.com"), &Outgoing::nothing())
                .await
                .is_ok(),
            "the old address is free"
        );
    }

    #[tokio::test]
    async fn a_later_request_voids_the_earlier_token() {
        let world = World::new();
        let first = world.ask("ada@lovelace.org").await;
        let second = world.ask("ada@analytical.engine").await;
        assert!(matches!(
            world.confirm(&first).await,
            Err(ConfirmEmailChangeError::InvalidToken)
        ));
        let moved = world.confirm(&second).await.unwrap();
        assert_eq!(moved.email().as_str(), "ada@analytical.engine");
    }

    #[tokio::test]
    async fn an_expired_token_is_refused_even_while_still_stored() {
        let world = World::new();
        let token = world.ask("ada@lovelace.org").await;
        let expiry = FixedClock::default()
            .now()
            .plus_seconds(EMAIL_CHANGE_TOKEN_LIFETIME_SECONDS)
            .unwrap();
        let result = world
            .confirm_at(FixedClock::at(expiry))
            .execute(&Caller::Anonymous, EmailChangeConfirmation { token })
            .await;
        assert!(matches!(result, Err(ConfirmEmailChangeError::InvalidToken)));
    }

    #[tokio::test]
    async fn an_address_taken_meanwhile_is_a_conflict_and_nothing_changes() {
        let world = World::new();
        let token = world.ask("ada@lovelace.org").await;
        world.users.add(user_with_email("ADA@lovelace.org"));
        assert!(matches!(
            world.confirm(&token).await,
            Err(ConfirmEmailChangeError::EmailTaken)
        ));
        assert_eq!(world.users.stored(world.ada.id()), Some(world.ada.clone()));
    }

    #[tokio::test]
    async fn a_suspended_users_token_does_nothing() {
        let world = World::new();
        let token = world.ask("ada@lovelace.org").await;
        let mut suspended = world.ada.clone();
        suspended.suspend().unwrap();
        world.users.add(suspended.clone());
        assert!(matches!(
            world.confirm(&token).await,
            Err(ConfirmEmailChangeError::InvalidToken)
        ));
        assert_eq!(world.users.stored(world.ada.id()), Some(suspended));
    }

    #[tokio::test]
    async fn a_lost_race_with_another_write_is_retried_from_a_fresh_read() {
        let world = World::new();
        let token = world.ask("ada@lovelace.org").await;
        world.users.conflict_on_next_updates(2);
        assert!(world.confirm(&token).await.is_ok());
    }

    #[tokio::test]
    async fn an_email_change_voids_the_reset_token_sent_to_the_old_address() {
        let world = World::new();
        let credentials = InMemoryCredentials::beside(&world.users);
        crate::credentials::RequestPasswordReset::new(
            world.users.clone(),
            credentials.clone(),
            FakeTokens,
            crate::fakes::FakeSealer::default(),
            FixedClock::default(),
        )
        .execute(
            &Caller::Anonymous,
            PasswordResetRequest {
                email: world.ada.email().clone(),
            },
        )
        .await
        .unwrap();
        let reset_email = world.users.outbox().take().remove(0);
        let reset_token = crate::fakes::FakeSealer::default()
            .reveal(reset_email)
            .text
            .lines()
            .find_map(|line| line.strip_prefix("token="))
            .unwrap()
            .to_owned();
        let token = world.ask("ada@lovelace.org").await;
        world.confirm(&token).await.unwrap();

        let reset = crate::credentials::ConfirmPasswordReset::new(
            world.users.clone(),
            credentials,
            crate::fakes::FakeHasher::default(),
            FakeTokens,
            FixedClock::default(),
        )
        .execute(
            &Caller::Anonymous,
            NewPasswordRequest {
                token: reset_token,
                new_password: Password::parse("correct horse battery").unwrap(),
            },
        )
        .await;
        assert!(matches!(
            reset,
            Err(crate::credentials::ConfirmPasswordResetError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn a_confirmation_is_audited_about_the_tokens_owner() {
        let world = World::new();
        let token = world.ask("ada@lovelace.org").await;
        let (lines, _guard) = AuditLines::capture();
        world.confirm(&token).await.unwrap();
        world.confirm(&token).await.unwrap_err();
        let recorded = lines.take();
        let owner = world.ada.id().to_string();
        let summary: Vec<_> = recorded
            .iter()
            .map(|line| {
                (
                    line["event"].as_str(),
                    line["outcome"].as_str(),
                    line.get("target_id"),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("email_change", "success", Some(&owner)),
                ("email_change", "failure", None),
            ]
        );
    }

    #[tokio::test]
    async fn a_revocation_of_the_users_sessions_voids_the_pending_change() {
        let world = World::new();
        let token = world.ask("new@example.com").await;
        let signed_out = crate::users::ChangeUser::new(
            world.users.clone(),
            FixedClock::at(FixedClock::default().now().plus_seconds(1).unwrap()),
            crate::users::Transition::SignOutEverywhere,
        );
        signed_out
            .execute(
                &world.users.sign_in(&world.ada),
                crate::users::UserChange {
                    id: world.ada.id(),
                    if_match: None,
                },
            )
            .await
            .unwrap();
        let later = FixedClock::at(FixedClock::default().now().plus_seconds(2).unwrap());
        let confirmed = world
            .confirm_at(later)
            .execute(
                &Caller::Anonymous,
                EmailChangeConfirmation {
                    token: token.clone(),
                },
            )
            .await;
        assert!(matches!(
            confirmed,
            Err(ConfirmEmailChangeError::InvalidToken)
        ));
        let stored = world.users.stored(world.ada.id()).unwrap();
        assert_eq!(stored.email().as_str(), "ada@example.com");
    }
}
