//! The traits adapters implement. Each method's comment says what an implementation MUST do;
//! the use-case tests hold the in-memory fakes to the same contract.

use domain::{
    Email, Order, OrderId, Password, PasswordHash, Timestamp, User, UserId, UserStatus, Version,
};
use std::future::Future;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure of the data store itself, never of a business rule.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// Throttled or unreachable after the client's own retries: worth retrying later.
    #[error("the data store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the data store failed")]
    Failed(#[source] BoxError),
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("the email address is already registered")]
    EmailTaken,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("the user changed since it was read")]
    VersionConflict,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the cursor is not one this service issued for this listing")]
    InvalidCursor,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

pub trait UserRepository: Send + Sync + 'static {
    /// Stores a newly registered user and claims its email address in one atomic write.
    /// MUST fail with `EmailTaken`, storing nothing, when a user that is not deleted holds an
    /// address with the same normalized form.
    fn insert(&self, user: &User) -> impl Future<Output = Result<(), InsertUserError>> + Send;

    /// The user with this id, whatever its status; `None` when there is none.
    fn find(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<User>, RepositoryError>> + Send;

    /// The user that holds this address (compared by normalized form); deleted users hold none.
    fn find_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<User>, RepositoryError>> + Send;

    /// Stores `updated` in place of `current` (the user as read) in one atomic write: the email
    /// claim moves when the normalized address changes and is released when the user is
    /// deleted. MUST fail with `VersionConflict` when the stored version is no longer
    /// `current.version()`, and with `EmailTaken` when another user holds the new address;
    /// either way nothing changes. MUST return the user as stored, at `current.version().next()`.
    fn update(
        &self,
        current: &User,
        updated: User,
    ) -> impl Future<Output = Result<User, UpdateUserError>> + Send;

    /// One page of users, newest first. Paging from no cursor to the end MUST return every
    /// matching user exactly once; a cursor from another listing MUST be `InvalidCursor`.
    fn list(
        &self,
        query: &UserListQuery,
    ) -> impl Future<Output = Result<Page<User>, PageError>> + Send;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Only(UserStatus),
    /// The default listing: active and suspended users.
    NotDeleted,
}

impl StatusFilter {
    pub fn includes(&self, status: UserStatus) -> bool {
        match self {
            Self::Only(only) => *only == status,
            Self::NotDeleted => status != UserStatus::Deleted,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListQuery {
    pub status: StatusFilter,
    pub limit: PageLimit,
    pub cursor: Option<Cursor>,
}

/// How many items one page holds: 1 to 100, 20 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a whole number from {min} to {max}", min = PageLimit::MIN, max = PageLimit::MAX)]
pub struct PageLimitError;

impl PageLimit {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 100;
    pub const DEFAULT: PageLimit = PageLimit(20);

    pub fn parse(raw: &str) -> Result<Self, PageLimitError> {
        match raw.trim().parse::<u8>() {
            Ok(limit) if (Self::MIN..=Self::MAX).contains(&limit) => Ok(Self(limit)),
            _ => Err(PageLimitError),
        }
    }

    pub fn get(&self) -> usize {
        usize::from(self.0)
    }
}

/// Where the next page starts. Clients get it as an opaque string and hand it back
/// unchanged; only the repository that issued it can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
}

/// A message for one recipient, in plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: Email,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the email could not be sent")]
pub struct EmailSendError(#[source] pub BoxError);

pub trait EmailSender: Send + Sync + 'static {
    /// Hands the message to the mail service; `Ok` means it was accepted for delivery.
    fn send(
        &self,
        email: &OutgoingEmail,
    ) -> impl Future<Output = Result<(), EmailSendError>> + Send;
}

pub trait OrderRepository: Send + Sync + 'static {
    /// Stores a new order in its user's collection.
    fn insert(&self, order: &Order) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// The order with this id among this user's orders; `None` when there is none, including
    /// when the id belongs to another user's order.
    fn find(
        &self,
        user_id: UserId,
        order_id: OrderId,
    ) -> impl Future<Output = Result<Option<Order>, RepositoryError>> + Send;

    /// One page of the user's orders, newest first, with the paging contract of
    /// `UserRepository::list`; a cursor issued for another user MUST be `InvalidCursor`.
    fn list(
        &self,
        user_id: UserId,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> impl Future<Output = Result<Page<Order>, PageError>> + Send;
}

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
    pub expires_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum RedeemTokenError {
    /// Redeemed already, by this request's twin or an earlier one.
    #[error("the token is no longer stored")]
    TokenGone,
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

    fn find_reset_token(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<ResetTokenRecord>, RepositoryError>> + Send;

    /// Deletes the token and stores the user's new password hash in one atomic write. MUST fail
    /// with `TokenGone`, storing nothing, when the token is no longer stored, so of two racing
    /// redemptions exactly one succeeds.
    fn redeem_reset_token(
        &self,
        record: &ResetTokenRecord,
        password: &PasswordHash,
    ) -> impl Future<Output = Result<(), RedeemTokenError>> + Send;

    /// The user's password hash; `None` until a password was set.
    fn password_hash(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Option<PasswordHash>, RepositoryError>> + Send;
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

/// A response kept for replay under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What a request finds when it claims its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is this request's: run it, then `complete` or `release`.
    Acquired,
    /// The same request ran to the end before: answer what it answered.
    Replay(StoredResponse),
    /// The same request is running now.
    InProgress,
    /// The key was used with another request.
    Mismatch,
}

pub trait IdempotencyStore: Send + Sync + 'static {
    /// Takes `key` for a request whose content hashes to `request_hash`, atomically. A record
    /// that expired, or an in-progress one whose holder has died (older than its lock), MUST
    /// count as absent; the code checks expiry itself, since TTL deletes late.
    fn claim(
        &self,
        key: &str,
        request_hash: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<IdempotencyClaim, RepositoryError>> + Send;

    /// Stores the response of the request holding `key`, for replay until the record expires.
    fn complete(
        &self,
        key: &str,
        request_hash: &str,
        response: &StoredResponse,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// Gives `key` up after a failure, so that a retry can run.
    fn release(
        &self,
        key: &str,
        request_hash: &str,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;
}

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

pub trait IdGenerator: Send + Sync + 'static {
    /// A fresh id that sorts after every id this generator returned before.
    fn new_user_id(&self) -> UserId;

    /// A fresh order id, ordered like user ids.
    fn new_order_id(&self) -> OrderId;
}

/// An `If-Match` precondition: the client's idea of the current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `If-Match: *`: any current version will do.
    Any,
    /// One of these versions must be current; an empty list never matches.
    OneOf(Vec<Version>),
}

impl IfMatch {
    pub fn matches(&self, current: Version) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(versions) => versions.contains(&current),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_page_limit_is_a_whole_number_from_1_to_100(raw in "\\PC{0,6}|-?[0-9]{1,4}") {
            let expected = raw.trim().parse::<i64>().ok().filter(|n| (1..=100).contains(n));
            prop_assert_eq!(PageLimit::parse(&raw).ok().map(|limit| limit.get() as i64), expected);
        }

        #[test]
        fn if_match_holds_exactly_the_listed_versions(current in any::<u64>(), listed in prop::collection::vec(any::<u64>(), 0..5)) {
            let if_match = IfMatch::OneOf(listed.iter().copied().map(Version::new).collect());
            prop_assert_eq!(if_match.matches(Version::new(current)), listed.contains(&current));
            prop_assert!(IfMatch::Any.matches(Version::new(current)));
        }
    }
}
