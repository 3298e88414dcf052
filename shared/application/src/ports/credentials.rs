//! Credentials: reset tokens, password hashes and the hasher.

use super::{BoxError, Outgoing, RepositoryError};
use crate::credentials::{LoginAttempts, Reservation};
use domain::{Email, Password, PasswordHash, Timestamp, User, UserId};
use std::future::Future;

/// The SHA-256 of a reset token, hex-encoded: what is stored instead of the token.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn new(hex: impl Into<String>) -> Self {
        Self(hex.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(<redacted>)")
    }
}

/// A freshly issued reset token: the secret goes to the user by email, the hash to the store.
pub struct IssuedToken {
    pub token: String,
    pub hash: TokenHash,
}

pub trait ResetTokens: Send + Sync + 'static {
    /// A new token with at least 256 bits from the OS random source, URL-safe.
    fn issue(&self) -> Result<IssuedToken, BoxError>;

    /// The hash under which `token` was stored, if it was ever issued.
    fn hash(&self, token: &str) -> TokenHash;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetTokenRecord {
    pub hash: TokenHash,
    pub user_id: UserId,
    /// The address the token went to: once the user's address is another, the token is void.
    pub sent_to: Email,
    pub expires_at: Timestamp,
}

impl ResetTokenRecord {
    /// When the token was issued: a revocation of the user's sessions after it (a password
    /// change, a suspension, ...) voids it.
    pub fn issued_at(&self) -> Option<Timestamp> {
        self.expires_at
            .plus_seconds(-crate::credentials::RESET_TOKEN_LIFETIME_SECONDS)
    }

    /// Whether the token may still set `user`'s password (expiry aside): the user is active,
    /// still at the address the token went to, and none of its sessions were revoked since.
    pub fn redeemable_for(&self, user: &User) -> bool {
        user.can_login()
            && *user.email() == self.sent_to
            && self
                .issued_at()
                .is_some_and(|issued_at| user.session_is_valid(issued_at))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RedeemTokenError {
    /// Redeemed already, by this request's twin or an earlier one.
    #[error("the token is no longer stored")]
    TokenGone,
    /// The user is no longer at the version read: read it again.
    #[error("the user changed since it was read")]
    UserChanged,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

pub trait CredentialRepository: Send + Sync + 'static {
    /// Stores a reset token's record, to expire by itself at `expires_at` (and be refused by
    /// the code from then on, since expiry in the store is late).
    fn save_reset_token(
        &self,
        record: &ResetTokenRecord,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// Makes `record` the user's one reset token, issued at `now`, and records `outbox`: the
    /// user's earlier token stops working, in the same atomic write. MUST store nothing and answer `TooSoon` when the
    /// user's last token was issued less than `RESET_EMAIL_INTERVAL_SECONDS` before `now`
    /// (also when a concurrent request just issued one), so one address gets at most one
    /// reset email a minute.
    fn replace_reset_token(
        &self,
        record: &ResetTokenRecord,
        now: Timestamp,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<ResetTokenIssued, RepositoryError>> + Send;

    fn find_reset_token(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<ResetTokenRecord>, RepositoryError>> + Send;

    /// Deletes the token, stores the user's new password hash, marks the user's address as
    /// verified, revokes the user's sessions as of `now`, forgets the failed logins of the
    /// address `sent_to` (count and lock) and records `outbox`, in one atomic write (the
    /// user, read as `user`, stored at its next version). MUST fail, storing nothing, with
    /// `TokenGone` when the token is no longer stored, and with `UserChanged` when the user is
    /// no longer at `user`'s version, no longer active, no longer has the address `sent_to`, or
    /// its sessions were revoked after the token was issued (the caller reads it again to
    /// tell), so of two racing redemptions exactly one succeeds, a suspended or deleted user's
    /// token does nothing, and an email change revokes the token sent to the old address.
    fn redeem_reset_token(
        &self,
        record: &ResetTokenRecord,
        user: &User,
        password: &PasswordHash,
        now: Timestamp,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<(), RedeemTokenError>> + Send;

    /// The failed logins stored for this address (by normalized form), known or not; the
    /// default when there are none.
    fn login_attempts(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<LoginAttempts, RepositoryError>> + Send;

    /// Reserves one password check at this address at `now` (see `credentials::lockout`):
    /// counts it as a failure in advance, to expire by itself `QUIET_SECONDS` after, and
    /// answers the record as stored. MUST answer `Locked`, counting nothing, when the address
    /// is locked at `now`, and MUST count every granted reservation exactly once, even among
    /// concurrent ones, so that no more are granted than `LoginAttempts::reserve` applied one
    /// at a time would grant. It MAY answer `Locked` (1 s) to a reservation that keeps
    /// losing races.
    fn reserve_login_attempt(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> impl Future<Output = Result<Reservation, RepositoryError>> + Send;

    /// Forgets the failed logins of this address (count and lock), as a success does.
    fn forget_login_attempts(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// The user's password hash; `None` until a password was set.
    fn password_hash(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Option<PasswordHash>, RepositoryError>> + Send;
}

/// At most one reset email per address in this many seconds.
pub const RESET_EMAIL_INTERVAL_SECONDS: i64 = 60;

/// Whether `replace_reset_token` stored the new token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTokenIssued {
    Issued,
    /// Within a minute of the last one: nothing stored, nothing to send.
    TooSoon,
}

#[derive(Debug, thiserror::Error)]
#[error("the password could not be hashed")]
pub struct HashingError(#[source] pub BoxError);

pub trait PasswordHasher: Send + Sync + 'static {
    /// An Argon2id hash with a fresh random salt.
    fn hash(&self, password: &Password) -> Result<PasswordHash, HashingError>;

    /// Whether `candidate` is the password behind `hash`; any malformed hash is `false`.
    fn verify(&self, candidate: &str, hash: &PasswordHash) -> bool;

    /// Does the work of one `verify` against a hash nobody has, so that an unknown account
    /// takes as long to refuse as a wrong password.
    fn verify_dummy(&self, candidate: &str);
}
