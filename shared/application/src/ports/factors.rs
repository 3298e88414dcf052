//! Second factors (API.md, "Second factors"): TOTP as RFC 6238 has it (SHA-1, 6 digits,
//! 30-second steps, one step of drift either way) and recovery codes.
//!
//! The secret exists in plaintext only in memory: it is stored sealed (`SecretSealer`, purpose
//! `TotpSecret`). Recovery codes are stored as hashes, like reset tokens.

use super::{BoxError, IssuedToken, Outgoing, RepositoryError, SealedSecret, TokenHash};
use domain::{Timestamp, User, UserId};
use std::future::Future;

/// A TOTP secret: 160 bits from the OS random source.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("TotpSecret(<redacted>)")
    }
}

/// The 30-second step a code was accepted for. Remembered per user, so that a code (and any
/// code of an earlier step) is accepted once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TotpStep(u64);

impl TotpStep {
    pub fn new(step: u64) -> Self {
        Self(step)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// What an authenticator app needs to hold a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    /// The secret in base32 (RFC 4648, no padding), for typing in.
    pub secret: String,
    /// `otpauth://totp/<issuer>:<label>?secret=...&issuer=...`, for a QR code.
    pub otpauth_uri: String,
}

/// How many recovery codes a user holds at once.
pub const RECOVERY_CODES: usize = 10;

pub trait OneTimePasswords: Send + Sync + 'static {
    /// A fresh secret of 160 bits from the OS random source.
    fn new_secret(&self) -> Result<TotpSecret, BoxError>;

    /// The secret as an authenticator takes it, under `label` (the account's name in the app).
    fn provisioning(&self, secret: &TotpSecret, label: &str) -> Result<Provisioning, BoxError>;

    /// The step `code` is right for at `now`, one step of drift either way, and later than
    /// `last_accepted`; `None` for any other input, whatever it is (never a panic).
    fn verify(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: Timestamp,
        last_accepted: Option<TotpStep>,
    ) -> Option<TotpStep>;

    /// `RECOVERY_CODES` fresh codes (at least 50 bits each, grouped for reading) and their
    /// hashes.
    fn recovery_codes(&self) -> Result<Vec<IssuedToken>, BoxError>;

    /// The hash a recovery code was stored under, however it was typed (case, spaces and
    /// dashes do not matter).
    fn recovery_code_hash(&self, code: &str) -> TokenHash;
}

/// How long an unconfirmed enrolment waits for its first code.
pub const ENROLMENT_SECONDS: i64 = 10 * 60;

/// A TOTP factor being set up: its secret sealed for the user, and when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    pub user_id: UserId,
    pub secret: SealedSecret,
    pub started_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum StartEnrolmentError {
    /// The user's factor is on already: an enrolment would replace it unproved.
    #[error("a second factor is on already")]
    FactorOn,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl TotpEnrolment {
    /// Whether it can still be confirmed at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.started_at
            .plus_seconds(ENROLMENT_SECONDS)
            .is_some_and(|end| now < end)
    }
}

/// A user's TOTP factor as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTotp {
    pub enrolment: TotpEnrolment,
    pub confirmed: bool,
    /// The step of the last code accepted: no code of it or before works again.
    pub last_step: Option<TotpStep>,
    /// The hashes of the recovery codes not used yet.
    pub recovery_codes: Vec<TokenHash>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmFactorError {
    /// The enrolment read is not there anymore: confirmed, replaced or expired meanwhile.
    #[error("the enrolment changed")]
    EnrolmentChanged,
    /// The user changed since it was read.
    #[error("the user changed")]
    UserChanged,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// The users' second factors, in the table beside the users.
pub trait TotpFactors: Send + Sync + 'static {
    /// The user's TOTP factor, confirmed or not.
    fn totp(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Option<StoredTotp>, RepositoryError>> + Send;

    /// Turns the factor on, all in one write: the enrolment read (the same `started_at`, still
    /// unconfirmed) confirmed with the step of its first code and the recovery codes' hashes,
    /// the user stored as `updated` if it is still at `current`'s version, and `outbox`.
    fn confirm(
        &self,
        enrolment: &TotpEnrolment,
        step: TotpStep,
        recovery_codes: &[TokenHash],
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<User, ConfirmFactorError>> + Send;

    /// Records `step` as the user's last accepted TOTP step, only if the factor is on and its
    /// last accepted step is earlier, in the same write: `false` when it is not (a replayed
    /// code, or a race with another use of it), so a code works once however many requests
    /// carry it.
    fn accept_step(
        &self,
        user_id: UserId,
        step: TotpStep,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Uses up the recovery code stored under `hash`, only if the factor is on and still holds
    /// it, in the same write: `false` when it does not (unknown, or used already).
    fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Replaces the recovery codes of the user's factor with `recovery_codes` (their hashes),
    /// only if the factor is on, in the same write: `false` when it is not.
    fn replace_recovery_codes(
        &self,
        user_id: UserId,
        recovery_codes: &[TokenHash],
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Turns the factor off, all in one write: the user's factor (confirmed or not) deleted,
    /// the user stored as `updated` (`mfa_enabled` off, its sessions revoked) if it is still
    /// at `current`'s version, and `outbox`. MUST fail with `UserChanged`, writing nothing,
    /// on a stale version.
    fn remove(
        &self,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<User, ConfirmFactorError>> + Send;

    /// Stores `enrolment` as the user's factor, unconfirmed, in place of an unconfirmed one;
    /// MUST refuse (`FactorOn`), in the same write, when the user's factor is confirmed.
    fn start_enrolment(
        &self,
        enrolment: &TotpEnrolment,
    ) -> impl Future<Output = Result<(), StartEnrolmentError>> + Send;
}
