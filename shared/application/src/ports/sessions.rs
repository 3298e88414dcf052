//! Sessions: signed access tokens, and the refresh tokens that renew them.

use super::{BoxError, RepositoryError, TokenHash};
use domain::{AuthMethods, Role, SessionId, SessionProof, Timestamp, User, UserId};
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
    /// Its session (`sid`), and how and when the user proved who they are (`amr`,
    /// `auth_time`).
    pub proof: SessionProof,
}

/// Why a token was refused; the kind is for logs, never for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access token is not valid: {0}")]
pub struct InvalidAccessToken(pub &'static str);

pub trait AccessTokenIssuer: Send + Sync + 'static {
    /// A signed token for `user` (its id and role) in the session `proof` names, issued at
    /// `now`, expiring `ACCESS_TOKEN_SECONDS` later.
    fn issue(
        &self,
        user: &User,
        proof: &SessionProof,
        now: Timestamp,
    ) -> Result<AccessToken, BoxError>;
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

/// One refresh token, as stored (by its hash). Every token descends from one sign-in: its
/// session (the family of tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub hash: TokenHash,
    pub user_id: UserId,
    /// The session: it dies `SESSION_SECONDS` after it started, when it is ended, and with
    /// any revocation of the user's sessions after it started. Each token carries the
    /// session's proof, for the access tokens a refresh issues.
    pub proof: SessionProof,
    /// Used up by a refresh: presenting it again ends the session.
    pub used: bool,
}

impl RefreshTokenRecord {
    pub fn session(&self) -> SessionId {
        self.proof.session
    }

    pub fn expires_at(&self) -> Option<Timestamp> {
        session_expiry(self.proof.session)
    }
}

/// When a session stops working anyway: `SESSION_SECONDS` after it started.
pub fn session_expiry(session: SessionId) -> Option<Timestamp> {
    session.started_at().plus_seconds(SESSION_SECONDS)
}

/// Where a sign-in came from, as the client said: for the user's list of sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionOrigin {
    /// The `User-Agent` header, cut to `USER_AGENT_CHARACTERS`.
    pub user_agent: Option<String>,
    /// The source address of the connection.
    pub ip: Option<String>,
}

/// How much of a `User-Agent` header a session keeps.
pub const USER_AGENT_CHARACTERS: usize = 256;

impl SessionOrigin {
    pub fn new(user_agent: Option<&str>, ip: Option<&str>) -> Self {
        Self {
            user_agent: user_agent.map(|agent| agent.chars().take(USER_AGENT_CHARACTERS).collect()),
            ip: ip.map(str::to_owned),
        }
    }
}

/// A session as stored while it lives: what the user's list of sessions shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub user_id: UserId,
    pub id: SessionId,
    pub methods: AuthMethods,
    /// The last refresh, or the sign-in.
    pub last_used_at: Timestamp,
    pub origin: SessionOrigin,
}

impl SessionRecord {
    pub fn created_at(&self) -> Timestamp {
        self.id.started_at()
    }

    pub fn expires_at(&self) -> Option<Timestamp> {
        session_expiry(self.id)
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
    /// The stored token; whether its session lives is for `rotate` to tell.
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

    /// Marks `used` as used, stores `next` in its session and records the session's use at
    /// `now`, in one atomic write. MUST fail, writing nothing, with `Lost` when `used` was
    /// used already (so of two racing refreshes with one token exactly one succeeds) and with
    /// `Revoked` when its session was ended.
    fn rotate(
        &self,
        used: &RefreshTokenRecord,
        next: &RefreshTokenRecord,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), RotateError>> + Send;

    /// Ends the session with one write: its refresh tokens, present and future, stop working,
    /// and so do its access tokens wherever the caller's session is read. Answers the session
    /// as it was stored; `None` when the user had no such session.
    fn end_session(
        &self,
        user_id: UserId,
        session: SessionId,
    ) -> impl Future<Output = Result<Option<SessionRecord>, RepositoryError>> + Send;

    /// The user's stored sessions (ended ones are gone; expired or revoked ones may remain
    /// until TTL removes them: `Sessions` filters those).
    fn list(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Vec<SessionRecord>, RepositoryError>> + Send;
}
