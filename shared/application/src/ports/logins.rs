//! What a login reads and writes, batched so that a login is at most three round trips: one
//! read by the address, one by the user, one write.

use super::{RefreshTokenRecord, RepositoryError};
use crate::credentials::LoginAttempts;
use domain::{Email, PasswordHash, User, UserId};
use std::future::Future;

/// What the store knows of an address, read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressRecord {
    /// The address's failed logins (the default when there are none).
    pub attempts: LoginAttempts,
    /// The live user who holds the address, if any.
    pub holder: Option<UserId>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordLoginError {
    /// The user changed since it was read: nothing was written.
    #[error("the user changed meanwhile")]
    UserChanged,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

pub trait LoginStore: Send + Sync + 'static {
    /// The address's failed logins and its holder, in one read.
    fn address(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<AddressRecord, RepositoryError>> + Send;

    /// The user and its password hash (`None` until one is set), in one read.
    fn user_and_password(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<(Option<User>, Option<PasswordHash>), RepositoryError>> + Send;

    /// All or nothing: stores `updated` (the login recorded) in place of `current` if the
    /// stored version is still `current`'s, stores `first_token` (a new family's), and, when
    /// `forget_attempts_of` names the address, forgets its failures. Answers the user as
    /// stored; MUST fail with `UserChanged`, writing nothing, on a stale version.
    fn record_login(
        &self,
        current: &User,
        updated: User,
        first_token: &RefreshTokenRecord,
        forget_attempts_of: Option<&Email>,
    ) -> impl Future<Output = Result<User, RecordLoginError>> + Send;
}
