//! Email changes a user asked for and has yet to prove, by a token sent to the new address.

use super::{Outgoing, RepositoryError, TokenHash};
use domain::{Email, Timestamp, User, UserId};
use std::future::Future;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChangeRecord {
    pub hash: TokenHash,
    pub user_id: UserId,
    pub new_email: Email,
    pub expires_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyEmailChangeError {
    /// Used already, replaced by a later request, or never stored.
    #[error("the token is no longer stored")]
    TokenGone,
    #[error("the email address is already registered")]
    EmailTaken,
    #[error("the user changed since it was read")]
    VersionConflict,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

pub trait EmailChangeRepository: Send + Sync + 'static {
    /// Makes `record` the user's one pending change, to expire by itself at `expires_at`, and
    /// records `outbox`: the token of an earlier request stops working, in the same atomic write.
    fn save_email_change(
        &self,
        record: &EmailChangeRecord,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    fn find_email_change(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<EmailChangeRecord>, RepositoryError>> + Send;

    /// Uses the token up, stores `updated` in place of `current` (the user as read, the email
    /// claim moving as `UserRepository::update` moves it) and records `outbox`, in one atomic
    /// write. MUST fail
    /// with `TokenGone` when the token is no longer stored, `EmailTaken` when another user
    /// holds the new address and `VersionConflict` when the user changed since `current` was
    /// read; either way nothing changes. MUST return the user as stored.
    fn apply_email_change(
        &self,
        record: &EmailChangeRecord,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<User, ApplyEmailChangeError>> + Send;
}
