use crate::ports::{
    Clock, CredentialRepository, HashingError, PasswordHasher, RedeemTokenError, RepositoryError,
    ResetTokens,
};
use crate::{Caller, Denied, Policy, UseCase, command};
use domain::Password;

pub struct NewPasswordRequest {
    pub token: String,
    pub new_password: Password,
}

command!(NewPasswordRequest => (), ConfirmPasswordResetError);

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

/// Redeems a reset token, exactly once, for a new password.
pub struct ConfirmPasswordReset<K, H, T, C> {
    credentials: K,
    hasher: H,
    tokens: T,
    clock: C,
}

impl<K, H, T, C> ConfirmPasswordReset<K, H, T, C> {
    pub fn new(credentials: K, hasher: H, tokens: T, clock: C) -> Self {
        Self {
            credentials,
            hasher,
            tokens,
            clock,
        }
    }
}

impl<K, H, T, C> UseCase<NewPasswordRequest> for ConfirmPasswordReset<K, H, T, C>
where
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
        let record = self
            .credentials
            .find_reset_token(&hash)
            .await?
            .ok_or(ConfirmPasswordResetError::InvalidToken)?;
        // The store deletes expired tokens late, so expiry is checked here.
        let now = self.clock.now();
        if record.expires_at <= now {
            return Err(ConfirmPasswordResetError::InvalidToken);
        }
        let password_hash = self.hasher.hash(&request.new_password)?;
        match self
            .credentials
            .redeem_reset_token(&record, &password_hash, now)
            .await
        {
            Ok(()) => Ok(()),
            Err(RedeemTokenError::TokenGone) => Err(ConfirmPasswordResetError::InvalidToken),
            Err(RedeemTokenError::Repository(error)) => Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::admin_caller;
    use crate::fakes::{
        FakeHasher, FakeTokens, FixedClock, InMemoryCredentials, InMemoryUsers, user_with_email,
    };
    use crate::ports::ResetTokenRecord;
    use domain::{Timestamp, UserId};

    fn confirm(
        credentials: &InMemoryCredentials,
        clock: FixedClock,
    ) -> ConfirmPasswordReset<InMemoryCredentials, FakeHasher, FakeTokens, FixedClock> {
        ConfirmPasswordReset::new(
            credentials.clone(),
            FakeHasher::default(),
            FakeTokens,
            clock,
        )
    }

    async fn stored_token(
        credentials: &InMemoryCredentials,
        user_id: UserId,
        expires_at: Timestamp,
    ) -> String {
        let issued = FakeTokens.issue().unwrap();
        let record = ResetTokenRecord {
            hash: issued.hash,
            user_id,
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
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        let credentials = InMemoryCredentials::beside(&users);
        let user_id = ada.id();
        let token = stored_token(&credentials, user_id, later(3600)).await;
        let confirm = confirm(&credentials, FixedClock::default());

        confirm
            .execute(&admin_caller(), request(&token, "correct horse battery"))
            .await
            .unwrap();
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
    }

    #[tokio::test]
    async fn an_expired_token_is_refused_even_while_still_stored() {
        let credentials = InMemoryCredentials::default();
        let user_id = UserId::generate();
        let token = stored_token(&credentials, user_id, later(3600)).await;
        let an_hour_on = FixedClock::at(later(3600));
        let result = confirm(&credentials, an_hour_on)
            .execute(&admin_caller(), request(&token, "correct horse battery"))
            .await;
        assert!(matches!(
            result,
            Err(ConfirmPasswordResetError::InvalidToken)
        ));
        assert_eq!(credentials.password_hash(user_id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_unknown_token_is_refused_like_the_others() {
        let credentials = InMemoryCredentials::default();
        let result = confirm(&credentials, FixedClock::default())
            .execute(&admin_caller(), request("made-up", "correct horse battery"))
            .await;
        assert!(matches!(
            result,
            Err(ConfirmPasswordResetError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn of_two_racing_confirmations_exactly_one_wins() {
        let credentials = InMemoryCredentials::default();
        let user_id = UserId::generate();
        let token = stored_token(&credentials, user_id, later(3600)).await;
        let confirm = confirm(&credentials, FixedClock::default());
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
    }
}
