//! Sessions: signed access tokens, and the refresh tokens that renew them.

use super::{BoxError, RepositoryError, TokenHash};
use domain::{Role, Timestamp, User, UserId};
use std::future::Future;

/// How long an access token works.
pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
/// How long a refresh-token family works, from the login that started it.
pub const SESSION_SECONDS: i64 = 30 * 24 * 60 * 60;

/// A signed access token and how many seconds it lives.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// What a verified access token says of its bearer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub role: Role,
}

/// Why a token was refused; the kind is for logs, never for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access token is not valid: {0}")]
pub struct InvalidAccessToken(pub &'static str);

pub trait AccessTokenIssuer: Send + Sync + 'static {
    /// A signed token for `user` (its id and role), issued at `now`, expiring
    /// `ACCESS_TOKEN_SECONDS` later.
    fn issue(&self, user: &User, now: Timestamp) -> Result<AccessToken, BoxError>;
}

pub trait AccessTokenVerifier: Send + Sync + 'static {
    /// The claims of a token this service signed with one of its published keys (by `kid`),
    /// for its issuer and audience, not expired at `now`. Anything else, `alg: none` and
    /// foreign signatures included, MUST be refused.
    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, InvalidAccessToken>;

    /// False where no route reads a caller (public functions): their requests are anonymous
    /// whatever they carry, with no verification and nothing logged.
    fn reads_tokens(&self) -> bool {
        true
    }
}

/// One refresh token, as stored (by its hash). Every token descends from one login: its family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub hash: TokenHash,
    pub user_id: UserId,
    pub family: String,
    /// When the login that started the family happened: the family dies `SESSION_SECONDS`
    /// later, and with any revocation of the user's sessions after it.
    pub family_started_at: Timestamp,
    /// Used up by a refresh: presenting it again revokes the family.
    pub used: bool,
}

impl RefreshTokenRecord {
    pub fn expires_at(&self) -> Option<Timestamp> {
        self.family_started_at.plus_seconds(SESSION_SECONDS)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// The token was used meanwhile (by a twin request, say): nothing was written.
    #[error("the refresh token was used meanwhile")]
    Lost,
    /// The token's family is revoked (logout, reuse): nothing was written.
    #[error("the refresh token's family is revoked")]
    Revoked,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

pub trait SessionRepository: Send + Sync + 'static {
    /// The stored token; whether its family is revoked is for `rotate` to tell.
    fn find(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<RefreshTokenRecord>, RepositoryError>> + Send;

    /// The stored token and the user `owner` (whom the token names), in one read.
    fn find_with_owner(
        &self,
        hash: &TokenHash,
        owner: UserId,
    ) -> impl Future<Output = Result<(Option<RefreshTokenRecord>, Option<User>), RepositoryError>> + Send;

    /// Marks `used` as used and stores `next` in its family, in one atomic write. MUST fail,
    /// writing nothing, with `Lost` when `used` was used already (so of two racing refreshes
    /// with one token exactly one succeeds) and with `Revoked` when its family is revoked.
    fn rotate(
        &self,
        used: &RefreshTokenRecord,
        next: &RefreshTokenRecord,
    ) -> impl Future<Output = Result<(), RotateError>> + Send;

    /// Revokes every token of the family, present and future, with one write.
    fn revoke_family(
        &self,
        token: &RefreshTokenRecord,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;
}
