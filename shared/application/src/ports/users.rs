//! Users: the repository, listing queries and the `If-Match` precondition.

use super::{Cursor, Outgoing, Page, PageError, PageLimit, RepositoryError};
use domain::{Email, SessionId, User, UserId, UserStatus, Version};
use std::future::Future;

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
    /// The write would leave the service without an active administrator.
    #[error("the last active administrator")]
    LastAdmin,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

pub trait UserRepository: Send + Sync + 'static {
    /// Stores a newly registered user, claims its email address and records `outbox` in one
    /// atomic write. MUST fail with `EmailTaken`, storing nothing, when a user that is not
    /// deleted holds an address with the same normalized form.
    fn insert(
        &self,
        user: &User,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<(), InsertUserError>> + Send;

    /// The user with this id, whatever its status; `None` when there is none.
    fn find(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<User>, RepositoryError>> + Send;

    /// The user `subject` (when there is one to read) and the caller's own record: its
    /// account and whether its session `session` is stored (not ended), in one read. MUST
    /// take no more round trips than reading `subject` alone.
    fn find_with_caller(
        &self,
        subject: Option<UserId>,
        caller: UserId,
        session: SessionId,
    ) -> impl Future<Output = Result<(Option<User>, CallerRecord), RepositoryError>> + Send;

    /// The user that holds this address (compared by normalized form); deleted users hold none.
    fn find_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<User>, RepositoryError>> + Send;

    /// Stores `updated` in place of `current` (the user as read) and records `outbox`, in one
    /// atomic write: the email claim moves when the normalized address changes and is released
    /// when the user is deleted. MUST fail with `VersionConflict` when the stored version is no longer
    /// `current.version()`, with `EmailTaken` when another user holds the new address, and
    /// with `LastAdmin` when `current` is an active admin, `updated` is not, and no other
    /// active admin is left, decided in the same atomic write (so of two racing writes that
    /// would each take one of the last two admins away, one fails); either way nothing
    /// changes. MUST return the user as stored, at `current.version().next()`.
    fn update(
        &self,
        current: &User,
        updated: User,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<User, UpdateUserError>> + Send;

    /// One page of users, newest first. Paging from no cursor to the end MUST return every
    /// matching user exactly once; a cursor from another listing MUST be `InvalidCursor`.
    fn list(
        &self,
        query: &UserListQuery,
    ) -> impl Future<Output = Result<Page<User>, PageError>> + Send;
}

/// What the store says of the caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerRecord {
    pub account: Option<User>,
    /// Whether the session the caller's token belongs to is still stored (not ended).
    pub session_stored: bool,
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
        fn if_match_holds_exactly_the_listed_versions(current in any::<u64>(), listed in prop::collection::vec(any::<u64>(), 0..5)) {
            let if_match = IfMatch::OneOf(listed.iter().copied().map(Version::new).collect());
            prop_assert_eq!(if_match.matches(Version::new(current)), listed.contains(&current));
            prop_assert!(IfMatch::Any.matches(Version::new(current)));
        }
    }
}
