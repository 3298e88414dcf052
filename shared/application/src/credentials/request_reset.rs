use crate::audit::{self, Outcome};
use crate::messages;
use crate::ports::{
    Clock, CredentialRepository, EmailSecret, Outgoing, RepositoryError, ResetTokenIssued,
    ResetTokenRecord, ResetTokens, SecretPurpose, SecretSealer, UserRepository,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::{Email, UserId};

/// Ask for a reset token by email.
#[derive(Debug, Clone)]
pub struct PasswordResetRequest {
    pub email: Email,
}

command!(PasswordResetRequest => (), RequestPasswordResetError);

/// How long a reset token works.
pub const RESET_TOKEN_LIFETIME_SECONDS: i64 = 60 * 60;

#[derive(Debug, thiserror::Error)]
pub enum RequestPasswordResetError {
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("no token could be drawn from the random source")]
    RandomSource(#[source] crate::ports::BoxError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Emails a single-use reset token to an active user. The outcome looks the same whether or
/// not the address belongs to anyone, so the route cannot be used to find accounts.
/// The token goes into the outbox sealed (`S`), so no stored copy of the email holds it.
pub struct RequestPasswordReset<U, K, T, S, C> {
    users: U,
    credentials: K,
    tokens: T,
    sealer: S,
    clock: C,
}

impl<U, K, T, S, C> RequestPasswordReset<U, K, T, S, C> {
    pub fn new(users: U, credentials: K, tokens: T, sealer: S, clock: C) -> Self {
        Self {
            users,
            credentials,
            tokens,
            sealer,
            clock,
        }
    }
}

impl<U, K, T, S, C> UseCase<PasswordResetRequest> for RequestPasswordReset<U, K, T, S, C>
where
    U: UserRepository,
    K: CredentialRepository,
    T: ResetTokens,
    S: SecretSealer,
    C: Clock,
{
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(
        &self,
        _caller: &Caller,
        command: PasswordResetRequest,
    ) -> Result<(), RequestPasswordResetError> {
        let PasswordResetRequest { email } = command;
        let mut owner = None;
        let result = self.issue(&email, &mut owner).await;
        // `failure` when nothing was sent: no such active user, or a minute not yet passed.
        let outcome = match &result {
            Ok(true) => Outcome::Success,
            _ => Outcome::Failure,
        };
        audit::record("password_reset_request", outcome, None, owner);
        result.map(|_sent| ())
    }
}

impl<U, K, T, S, C> RequestPasswordReset<U, K, T, S, C>
where
    U: UserRepository,
    K: CredentialRepository,
    T: ResetTokens,
    S: SecretSealer,
    C: Clock,
{
    /// Whether a reset email went out; `owner` learns whose address it is, if anyone's.
    async fn issue(
        &self,
        email: &Email,
        owner: &mut Option<UserId>,
    ) -> Result<bool, RequestPasswordResetError> {
        let Some(user) = self
            .users
            .find_by_email(email)
            .await?
            .filter(|user| user.can_login())
        else {
            return Ok(false);
        };
        *owner = Some(user.id());
        let issued = self
            .tokens
            .issue()
            .map_err(RequestPasswordResetError::RandomSource)?;
        let now = self.clock.now();
        let expires_at = now
            .plus_seconds(RESET_TOKEN_LIFETIME_SECONDS)
            .ok_or_else(|| RepositoryError::Failed("the clock is out of range".into()))?;
        let record = ResetTokenRecord {
            hash: issued.hash,
            user_id: user.id(),
            sent_to: user.email().clone(),
            expires_at,
        };
        let secret = EmailSecret::seal(
            &self.sealer,
            &issued.token,
            user.id(),
            SecretPurpose::PasswordReset,
        )
        .await?;
        let message =
            messages::password_reset(user.email(), secret, RESET_TOKEN_LIFETIME_SECONDS / 60);
        let issued = self
            .credentials
            .replace_reset_token(&record, now, &Outgoing::email(message))
            .await?;
        // One email a minute per address: within it the answer is the same 202, with nothing
        // stored and nothing sent.
        Ok(issued == ResetTokenIssued::Issued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::admin_caller;
    use crate::fakes::{
        FakeSealer, FakeTokens, FixedClock, InMemoryCredentials, InMemoryUsers, user_with_email,
    };

    type Request = RequestPasswordReset<
        InMemoryUsers,
        InMemoryCredentials,
        FakeTokens,
        FakeSealer,
        FixedClock,
    >;

    fn use_case(users: InMemoryUsers, credentials: InMemoryCredentials) -> Request {
        RequestPasswordReset::new(
            users,
            credentials,
            FakeTokens,
            FakeSealer::default(),
            FixedClock::default(),
        )
    }

    #[tokio::test]
    async fn an_active_user_gets_a_token_by_email_recorded_with_its_hash() {
        let (users, credentials) = (InMemoryUsers::default(), InMemoryCredentials::default());
        let ada = users.add(user_with_email("ada@example.com"));
        let request = use_case(users, credentials.clone());
        request
            .execute(
                &admin_caller(),
                PasswordResetRequest {
                    email: Email::parse("ADA@example.com").unwrap(),
                },
            )
            .await
            .unwrap();

        let stored_email = &credentials.outbox().emails()[0];
        let sent = credentials.outbox().revealed();
        assert_eq!(sent.len(), 1);
        let token = sent[0]
            .text
            .lines()
            .find_map(|line| line.strip_prefix("token="))
            .unwrap();
        let stored = credentials.reset_tokens();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].user_id, ada.id());
        assert_eq!(stored[0].hash, FakeTokens.hash(token));
        assert_ne!(
            stored[0].hash.as_str(),
            token,
            "the token itself is not stored"
        );
        assert!(
            !stored_email.text.contains(token) && stored_email.secret.is_some(),
            "the recorded email holds the token sealed, not in its text"
        );
        assert!(
            !sent[0].text.contains("Ada"),
            "no name to an unproved address"
        );
        let expected_expiry = FixedClock::default().now().plus_seconds(3600).unwrap();
        assert_eq!(stored[0].expires_at, expected_expiry);
    }

    #[tokio::test]
    async fn unknown_suspended_and_deleted_addresses_get_nothing_and_the_same_answer() {
        let (users, credentials) = (InMemoryUsers::default(), InMemoryCredentials::default());
        let mut suspended = user_with_email("s@example.com");
        suspended.suspend().unwrap();
        users.add(suspended);
        let mut deleted = user_with_email("d@example.com");
        deleted.delete().unwrap();
        users.add(deleted);
        let request = use_case(users, credentials.clone());

        for address in ["nobody@example.com", "s@example.com", "d@example.com"] {
            assert!(
                request
                    .execute(
                        &admin_caller(),
                        PasswordResetRequest {
                            email: Email::parse(address).unwrap()
                        }
                    )
                    .await
                    .is_ok()
            );
        }
        assert!(credentials.outbox().emails().is_empty());
        assert!(credentials.reset_tokens().is_empty());
    }

    #[tokio::test]
    async fn one_email_a_minute_and_a_new_token_replaces_the_earlier_one() {
        let (users, credentials) = (InMemoryUsers::default(), InMemoryCredentials::default());
        users.add(user_with_email("ada@example.com"));
        let ask_at = |seconds: i64| {
            let now = FixedClock::default().now().plus_seconds(seconds).unwrap();
            RequestPasswordReset::new(
                users.clone(),
                credentials.clone(),
                FakeTokens,
                FakeSealer::default(),
                FixedClock::at(now),
            )
        };
        let request = || PasswordResetRequest {
            email: Email::parse("ada@example.com").unwrap(),
        };
        ask_at(0)
            .execute(&Caller::Anonymous, request())
            .await
            .unwrap();
        let soon = ask_at(59).execute(&Caller::Anonymous, request()).await;
        assert!(soon.is_ok(), "the same answer");
        assert_eq!(
            credentials.outbox().emails().len(),
            1,
            "nothing sent within the minute"
        );
        let first = credentials.reset_tokens();
        assert_eq!(first.len(), 1);

        ask_at(60)
            .execute(&Caller::Anonymous, request())
            .await
            .unwrap();
        assert_eq!(credentials.outbox().emails().len(), 2);
        let stored = credentials.reset_tokens();
        assert_eq!(stored.len(), 1, "the earlier token is gone");
        assert_ne!(stored[0].hash, first[0].hash);
    }

    #[tokio::test]
    async fn with_the_key_service_down_nothing_is_stored_and_the_answer_says_try_later() {
        let (users, credentials) = (InMemoryUsers::default(), InMemoryCredentials::default());
        users.add(user_with_email("ada@example.com"));
        let request = RequestPasswordReset::new(
            users,
            credentials.clone(),
            FakeTokens,
            FakeSealer::unavailable(),
            FixedClock::default(),
        );
        let outcome = request
            .execute(
                &Caller::Anonymous,
                PasswordResetRequest {
                    email: Email::parse("ada@example.com").unwrap(),
                },
            )
            .await;
        assert!(matches!(
            outcome,
            Err(RequestPasswordResetError::Repository(
                RepositoryError::Unavailable(_)
            ))
        ));
        assert!(credentials.reset_tokens().is_empty());
        assert!(credentials.outbox().emails().is_empty());
    }
}
