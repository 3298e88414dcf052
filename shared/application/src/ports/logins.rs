//! What a login reads and writes, batched so that a login is at most three round trips: the
//! address (its reservation and its holder, at once), the user, one write.

use super::{Outgoing, RefreshTokenRecord, RepositoryError, SessionRecord, TokenHash};
use crate::credentials::Reservation;
use domain::{Email, PasswordHash, Timestamp, User, UserId};

/// What a password change stores, beside the user.
pub struct NewPassword<'a> {
    pub hash: &'a PasswordHash,
    /// The caller's new session (every other one ends), and its first refresh token.
    pub session: &'a SessionRecord,
    pub first_token: &'a RefreshTokenRecord,
    pub at: Timestamp,
}
use std::future::Future;

/// What the store knows of an address, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRecord {
    /// This attempt's reservation (see `CredentialRepository::reserve_login_attempt`).
    pub reservation: Reservation,
    /// The live user who holds the address, if any.
    pub holder: Option<UserId>,
}

/// How long a right password waits for the second factor (`mfa_token`'s `expires_in`).
pub const MFA_CHALLENGE_SECONDS: i64 = 5 * 60;

/// A right password whose second factor is still to come: the `mfa_token`, stored as its
/// hash, bound to its user and to the address the password was typed at (whose lockout the
/// codes count toward).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaChallenge {
    pub hash: TokenHash,
    pub user_id: UserId,
    pub address: Email,
    pub issued_at: Timestamp,
}

impl MfaChallenge {
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.issued_at.plus_seconds(MFA_CHALLENGE_SECONDS)
    }

    /// Whether a code may still finish it at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.expires_at().is_some_and(|end| now < end)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordLoginError {
    /// The user changed since it was read: nothing was written.
    #[error("the user changed meanwhile")]
    UserChanged,
    /// The `mfa_token` it finishes was used up meanwhile: nothing was written.
    #[error("the sign-in was finished meanwhile")]
    ChallengeUsed,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

pub trait LoginStore: Send + Sync + 'static {
    /// Reserves a password check at the address (by the contract of
    /// `CredentialRepository::reserve_login_attempt`) and reads its holder, in one round trip.
    fn address(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> impl Future<Output = Result<AddressRecord, RepositoryError>> + Send;

    /// The user and its password hash (`None` until one is set), in one read.
    fn user_and_password(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<(Option<User>, Option<PasswordHash>), RepositoryError>> + Send;

    /// All or nothing: stores `updated` (the login recorded) in place of `current` if the
    /// stored version is still `current`'s, stores the new `session` and its `first_token`,
    /// forgets the failures of `address` (the reservation included), and uses up `challenge`
    /// (a two-step login's `mfa_token`). Answers the user as stored; MUST fail, writing
    /// nothing, with `UserChanged` on a stale version and with `ChallengeUsed` when the
    /// challenge is not stored anymore.
    fn record_login(
        &self,
        current: &User,
        updated: User,
        session: &SessionRecord,
        first_token: &RefreshTokenRecord,
        address: &Email,
        challenge: Option<&TokenHash>,
    ) -> impl Future<Output = Result<User, RecordLoginError>> + Send;

    /// Stores `challenge` until it expires.
    fn issue_challenge(
        &self,
        challenge: &MfaChallenge,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// The challenge stored under `hash`, if any (expired or not: the caller checks).
    fn challenge(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<MfaChallenge>, RepositoryError>> + Send;

    /// All or nothing, for a password change: stores `updated` (its sessions revoked) in
    /// place of `current` if the stored version is still `current`'s, the new password hash,
    /// the caller's new session and its first refresh token, forgets the failed logins of the
    /// user's address (count and lock) and records `outbox`. Answers the user as stored;
    /// MUST fail with `UserChanged`, writing nothing, on a stale version.
    fn replace_password(
        &self,
        current: &User,
        updated: User,
        password: NewPassword<'_>,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<User, RecordLoginError>> + Send;
}
