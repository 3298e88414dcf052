//! Step-up (API.md, "Identity"): a sensitive change of one's own account needs fresh proof of
//! identity, the account's current password or a sign-in less than five minutes old. A wrong
//! password counts as a failed login of the account's address, by the same reservation, so
//! the lockout covers guesses made through these routes too.

use super::lockout::Reservation;
use super::second_factor::{FactorCheck, FactorProof, SecondFactor};
use crate::Caller;
use crate::audit::{self, Outcome};
use crate::ports::{
    CredentialRepository, OneTimePasswords, PasswordHasher, RepositoryError, SecretSealer,
    TotpFactors,
};
use domain::{Timestamp, User};
use futures::future::join;

/// How long a sign-in counts as fresh proof.
pub const STEP_UP_SECONDS: i64 = 5 * 60;

#[derive(Debug, thiserror::Error)]
pub enum StepUpError {
    #[error("the current password is wrong")]
    WrongPassword,
    /// Too many failures at the account's address: no password was checked.
    #[error("too many failed attempts; retry in {retry_after} seconds")]
    Locked { retry_after: i64 },
    /// Neither a current password nor a fresh sign-in.
    #[error("this change needs the current password or a sign-in of the last 5 minutes")]
    ReauthenticationRequired,
    /// A wrong, replayed or used-up code of the second factor where a route asks for one.
    #[error("the code is wrong")]
    WrongCode,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// Checks the proof a sensitive change of one's own account needs.
#[derive(Clone)]
pub struct StepUp<K, H> {
    credentials: K,
    hasher: H,
}

impl<K, H> StepUp<K, H> {
    pub fn new(credentials: K, hasher: H) -> Self {
        Self {
            credentials,
            hasher,
        }
    }
}

impl<K: CredentialRepository, H: PasswordHasher> StepUp<K, H> {
    /// Whether `caller`, acting on its own account `user` at `now`, proved who it is: by
    /// `current_password` when given (checked like a login: reserved first, then verified,
    /// a success forgets the address's failures), else by its token's `auth_time`.
    pub async fn check(
        &self,
        caller: &Caller,
        user: &User,
        current_password: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StepUpError> {
        match current_password {
            Some(password) => self.check_password(user, password, now).await,
            None if caller
                .proof()
                .is_some_and(|proof| proof.is_fresh(now, STEP_UP_SECONDS)) =>
            {
                Ok(())
            }
            None => Err(StepUpError::ReauthenticationRequired),
        }
    }

    /// The password check alone, for routes that always ask for it.
    pub async fn check_password(
        &self,
        user: &User,
        password: &str,
        now: Timestamp,
    ) -> Result<(), StepUpError> {
        // The reservation and the hash at once; only the verification waits for both.
        let (reservation, hash) = join(
            self.credentials.reserve_login_attempt(user.email(), now),
            self.credentials.password_hash(user.id()),
        )
        .await;
        if let Reservation::Locked { retry_after } = reservation? {
            return Err(StepUpError::Locked { retry_after });
        }
        let verified = match hash? {
            Some(hash) => self.hasher.verify(password, &hash),
            None => {
                self.hasher.verify_dummy(password);
                false
            }
        };
        if !verified {
            audit::record("step_up", Outcome::Denied, Some(user.id()), Some(user.id()));
            return Err(StepUpError::WrongPassword);
        }
        self.credentials.forget_login_attempts(user.email()).await?;
        Ok(())
    }

    /// A code of the user's second factor, where a route of one's own account asks for one:
    /// checked like a password (reserved at the account's address first, nothing checked while
    /// it is locked, a right code forgets the failures) and used up.
    pub async fn check_code<F, O, S>(
        &self,
        user: &User,
        factor: &SecondFactor<F, O, S>,
        proof: &FactorProof,
        now: Timestamp,
    ) -> Result<(), StepUpError>
    where
        F: TotpFactors,
        O: OneTimePasswords,
        S: SecretSealer,
    {
        let reservation = self
            .credentials
            .reserve_login_attempt(user.email(), now)
            .await?;
        if let Reservation::Locked { retry_after } = reservation {
            return Err(StepUpError::Locked { retry_after });
        }
        match factor.check(user.id(), proof, now).await? {
            FactorCheck::Accepted => {
                self.credentials.forget_login_attempts(user.email()).await?;
                Ok(())
            }
            FactorCheck::Refused => Err(StepUpError::WrongCode),
        }
    }
}
