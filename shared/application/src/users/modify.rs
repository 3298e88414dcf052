//! Read, change, write back: the one loop every state-changing use case runs.

use super::UserChangeError;
use crate::ports::{IfMatch, UpdateUserError, UserRepository};
use domain::{Changed, User, UserId};

/// How often a write that lost a race with another writer is retried from a fresh read.
const ATTEMPTS: usize = 3;

/// Applies `change` to the stored user and writes it back under optimistic locking.
/// A lost race is retried from a fresh read unless the client pinned a version with `If-Match`.
/// An unchanged user is returned as read, without a write. `change` refuses with the error
/// the caller should see.
pub(crate) async fn modify_user<R: UserRepository>(
    users: &R,
    id: UserId,
    precondition: Option<&IfMatch>,
    mut change: impl FnMut(&mut User) -> Result<Changed, UserChangeError>,
) -> Result<User, UserChangeError> {
    for _ in 0..ATTEMPTS {
        let current = users.find(id).await?.ok_or(UserChangeError::NotFound)?;
        if precondition.is_some_and(|expected| !expected.matches(current.version())) {
            return Err(UserChangeError::PreconditionFailed);
        }
        let mut updated = current.clone();
        if change(&mut updated)? == Changed::No {
            return Ok(current);
        }
        match users.update(&current, updated).await {
            Ok(stored) => return Ok(stored),
            Err(UpdateUserError::EmailTaken) => return Err(UserChangeError::EmailTaken),
            Err(UpdateUserError::VersionConflict) if precondition.is_some() => {
                return Err(UserChangeError::PreconditionFailed);
            }
            Err(UpdateUserError::VersionConflict) => continue,
            Err(UpdateUserError::Repository(error)) => return Err(error.into()),
        }
    }
    Err(UserChangeError::Contended)
}
