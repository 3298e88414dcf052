use crate::audit::{self, Outcome};
use crate::messages;
use crate::ports::{
    Change, Clock, CredentialRepository, DomainEvent, HashingError, Outgoing, PasswordChangedBy,
    PasswordHasher, RedeemTokenError, RepositoryError, ResetTokenRecord, ResetTokens,
    UserRepository,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::Password;

pub struct NewPasswordRequest {
    pub token: String,
    pub new_password: Password,
}

command!(NewPasswordRequest => (), ConfirmPasswordResetError);

/// How often a redemption that met a concurrent change of the user is tried from a fresh read.
const ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum ConfirmPasswordResetError {
    #[error(transparent)]
    Denied(#[from] Denied),
    /// Unknown, used or expired: one variant, so the three cannot be told apart.
    #[error("the token is invalid or has expired")]
    InvalidToken,
    #[error(transparent)]
    Hashing(#[from] HashingError),
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Redeems a reset token, exactly once, for a new password, and tells the owner (the notice
/// recorded with the password).
pub struct ConfirmPasswordReset<U, K, H, T, C> {
    users: U,
    credentials: K,
    hasher: H,
    tokens: T,
    clock: C,
}

impl<U, K, H, T, C> ConfirmPasswordReset<U, K, H, T, C> {
    pub fn new(users: U, credentials: K, hasher: H, tokens: T, clock: C) -> Self {
        Self {
            users,
            credentials,
            hasher,
            tokens,
            clock,
        }
    }
}

impl<U, K, H, T, C> UseCase<NewPasswordRequest> for ConfirmPasswordReset<U, K, H, T, C>
where
    U: UserRepository,
    K: CredentialRepository,
    H: PasswordHasher,
    T: ResetTokens,
    C: Clock,
{
    fn policy(&self) -> Policy {
        Policy::Anyone
    }

    async fn run(
        &self,
        _caller: &Caller,
        request: NewPasswordRequest,
    ) -> Result<(), ConfirmPasswordResetError> {
        let hash = self.tokens.hash(&request.token);
        let record = self.credentials.find_reset_token(&hash).await?;
        let owner = record.as_ref().map(|record| record.user_id);
        let result = match record {
            Some(record) => self.redeem(record, &request).await,
            None => Err(ConfirmPasswordResetError::InvalidToken),
        };
        audit::record("password_set", Outcome::of(&result), owner, owner);
        result
    }
}

impl<U, K, H, T, C> ConfirmPasswordReset<U, K, H, T, C>
where
    U: UserRepository,
    K: CredentialRepository,
    H: PasswordHasher,
    C: Clock,
{
    async fn redeem(
        &self,
        record: ResetTokenRecord,
        request: &NewPasswordRequest,
    ) -> Result<(), ConfirmPasswordResetError> {
        // The store deletes expired tokens late, so expiry is checked here.
        let now = self.clock.now();
        if record.expires_at <= now {
            return Err(ConfirmPasswordResetError::InvalidToken);
        }
        let password_hash = self.hasher.hash(&request.new_password)?;
        for _ in 0..ATTEMPTS {
            // Read for the notice and the event recorded with the new password; the write
            // checks again that the user is as read: active, with the address the token went to.
            let user = self
                .users
                .find(record.user_id)
                .await?
                .filter(|user| record.redeemable_for(user))
                .ok_or(ConfirmPasswordResetError::InvalidToken)?;
            let changed = Change::UserPasswordChanged {
                by: PasswordChangedBy::Reset,
            };
            let outbox = Outgoing::email(messages::password_changed(&user))
                .and([DomainEvent::next_of(&user, changed)]);
            match self
                .credentials
                .redeem_reset_token(&record, &user, &password_hash, now, &outbox)
                .await
            {
                Ok(()) => return Ok(()),
                Err(RedeemTokenError::TokenGone) => {
                    return Err(ConfirmPasswordResetError::InvalidToken);
                }
                // A login or an edit meanwhile, or a suspension: the next read tells.
                Err(RedeemTokenError::UserChanged) => continue,
                Err(RedeemTokenError::Repository(error)) => return Err(error.into()),
            }
        }
        Err(RepositoryError::Unavailable("the user kept changing".into()).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::admin_caller;
    use crate::fakes::{
        FakeHasher, FakeTokens, FixedClock, InMemoryCredentials, InMemoryUsers, lock_the_address,
        user_with_email,
    };
    use crate::ports::ResetTokenRecord;
    use domain::{Timestamp, User};

    type Confirm = crate::fakes::InMemoryConfirmReset;

    /// Ada, and credentials beside the users.
    fn world() -> (InMemoryUsers, User, InMemoryCredentials) {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let credentials = InMemoryCredentials::beside(&users);
        (users, ada, credentials)
    }

    fn confirm(
        users: &InMemoryUsers,
        credentials: &InMemoryCredentials,
        clock: FixedClock,
    ) -> Confirm {
        ConfirmPasswordReset::new(
            users.clone(),
            credentials.clone(),
            FakeHasher::default(),
            FakeTokens,
            clock,
        )
    }

    async fn stored_token(
        credentials: &InMemoryCredentials,
        user: &User,
        expires_at: Timestamp,
    ) -> String {
        let issued = FakeTokens.issue().unwrap();
        let record = ResetTokenRecord {
            hash: issued.hash,
            user_id: user.id(),
            sent_to: user.email().clone(),
            expires_at,
        };
        credentials.save_reset_token(&record).await.unwrap();
        issued.token
    }

    fn request(token: &str, password: &str) -> NewPasswordRequest {
        NewPasswordRequest {
            token: token.to_owned(),
            new_password: Password::parse(password).unwrap(),
        }
    }

    fn later(seconds: i64) -> Timestamp {
        FixedClock::default().now().plus_seconds(seconds).unwrap()
    }

    #[tokio::test]
    async fn a_valid_token_sets_the_password_once_verifies_the_address_and_ends_sessions() {
        let (users, ada, credentials) = world();
        let user_id = ada.id();
        let token = stored_token(&credentials, &ada, later(3600)).await;
        let confirm = confirm(&users, &credentials, FixedClock::default());

        confirm
            .execute(&admin_caller(), request(&token, "correct horse battery"))
            .await
            .unwrap();
        let notices = users.outbox().emails();
        assert_eq!(notices.len(), 1, "the owner is told, with the password set");
        assert_eq!(notices[0].to, *ada.email());
        assert_eq!(notices[0].subject, "Your password was changed");
        assert!(!notices[0].text.contains(&token) && !notices[0].text.contains("horse"));
        let hash = credentials.password_hash(user_id).await.unwrap().unwrap();
        assert!(FakeHasher::default().verify("correct horse battery", &hash));
        let verified = users.stored(user_id).unwrap();
        assert!(verified.email_verified());
        assert_eq!(
            verified.sessions_valid_after(),
            Some(FixedClock::default().now())
        );

        let reused = confirm
            .execute(&admin_caller(), request(&token, "another good password"))
            .await;
        assert!(matches!(
            reused,
            Err(ConfirmPasswordResetError::InvalidToken)
        ));
        let hash = credentials.password_hash(user_id).await.unwrap().unwrap();
        assert!(
            FakeHasher::default().verify("correct horse battery", &hash),
            "the reuse changed nothing"
        );
        assert_eq!(users.outbox().emails().len(), 1, "and told nobody");
    }

    #[tokio::test]
    async fn a_password_set_through_a_reset_lifts_the_lockout_of_the_address() {
        use crate::credentials::LoginAttempts;
        let (users, ada, credentials) = world();
        lock_the_address(&credentials, ada.email(), FixedClock::default().now()).await;
        let token = stored_token(&credentials, &ada, later(3600)).await;
        confirm(&users, &credentials, FixedClock::default())
            .execute(&admin_caller(), request(&token, "correct horse battery"))
            .await
            .unwrap();
        assert_eq!(
            credentials.login_attempts(ada.email()).await.unwrap(),
            LoginAttempts::default()
        );
    }

    #[tokio::test]
    async fn an_expired_token_is_refused_even_while_still_stored() {
        let (users, ada, credentials) = world();
        let token = stored_token(&credentials, &ada, later(3600)).await;
        let an_hour_on = FixedClock::at(later(3600));
        let result = confirm(&users, &credentials, an_hour_on)
            .execute(&admin_caller(), request(&token, "correct horse battery"))
            .await;
        assert!(matches!(
            result,
            Err(ConfirmPasswordResetError::InvalidToken)
        ));
        assert_eq!(credentials.password_hash(ada.id()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_unknown_token_or_user_is_refused_like_the_others() {
        let (users, _, credentials) = world();
        let confirm = confirm(&users, &credentials, FixedClock::default());
        let result = confirm
            .execute(&admin_caller(), request("made-up", "correct horse battery"))
            .await;
        assert!(matches!(
            result,
            Err(ConfirmPasswordResetError::InvalidToken)
        ));
        let stranger = user_with_email("ada@example.com");
        let orphan = stored_token(&credentials, &stranger, later(3600)).await;
        let result = confirm
            .execute(&admin_caller(), request(&orphan, "correct horse battery"))
            .await;
        assert!(matches!(
            result,
            Err(ConfirmPasswordResetError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn of_two_racing_confirmations_exactly_one_wins() {
        let (users, ada, credentials) = world();
        let token = stored_token(&credentials, &ada, later(3600)).await;
        let confirm = confirm(&users, &credentials, FixedClock::default());
        let (first, second) = futures::future::join(
            confirm.execute(&admin_caller(), request(&token, "first password!")),
            confirm.execute(&admin_caller(), request(&token, "second password!")),
        )
        .await;
        assert_eq!(
            [first.is_ok(), second.is_ok()]
                .iter()
                .filter(|ok| **ok)
                .count(),
            1
        );
        let loser = if first.is_ok() { second } else { first };
        assert!(matches!(
            loser,
            Err(ConfirmPasswordResetError::InvalidToken)
        ));
        assert_eq!(users.outbox().emails().len(), 1, "one notice");
    }

    #[tokio::test]
    async fn a_token_of_a_user_who_is_no_longer_active_does_nothing() {
        let (users, ada, credentials) = world();
        let token = stored_token(&credentials, &ada, later(3600)).await;
        let mut suspended = ada.clone();
        suspended.suspend().unwrap();
        users.add(suspended);
        let result = confirm(&users, &credentials, FixedClock::default())
            .execute(&admin_caller(), request(&token, "correct horse battery"))
            .await;
        assert!(matches!(
            result,
            Err(ConfirmPasswordResetError::InvalidToken)
        ));
        assert_eq!(credentials.password_hash(ada.id()).await.unwrap(), None);
        assert!(users.outbox().emails().is_empty());
    }
}
