//! Read, change, write back: the one loop every state-changing use case runs.

use crate::ports::{IfMatch, RepositoryError, UpdateUserError, UserRepository};
use domain::{Changed, User, UserId};

/// How often a write that lost a race with another writer is retried from a fresh read.
const ATTEMPTS: usize = 3;

#[derive(Debug)]
pub(crate) enum ModifyError<E> {
    NotFound,
    /// The change itself refused: a business rule of the caller's.
    Refused(E),
    EmailTaken,
    /// The client's `If-Match` names a version that is no longer current.
    PreconditionFailed,
    /// Other writers kept winning; nothing was changed.
    Contended,
    Repository(RepositoryError),
}

/// Applies `change` to the stored user and writes it back under optimistic locking.
/// A lost race is retried from a fresh read unless the client pinned a version with `If-Match`.
/// An unchanged user is returned as read, without a write.
pub(crate) async fn modify_user<R, E>(
    users: &R,
    id: UserId,
    precondition: Option<&IfMatch>,
    mut change: impl FnMut(&mut User) -> Result<Changed, E>,
) -> Result<User, ModifyError<E>>
where
    R: UserRepository,
{
    for _ in 0..ATTEMPTS {
        let current = users
            .find(id)
            .await
            .map_err(ModifyError::Repository)?
            .ok_or(ModifyError::NotFound)?;
        if precondition.is_some_and(|expected| !expected.matches(current.version())) {
            return Err(ModifyError::PreconditionFailed);
        }
        let mut updated = current.clone();
        if change(&mut updated).map_err(ModifyError::Refused)? == Changed::No {
            return Ok(current);
        }
        match users.update(&current, updated).await {
            Ok(stored) => return Ok(stored),
            Err(UpdateUserError::EmailTaken) => return Err(ModifyError::EmailTaken),
            Err(UpdateUserError::VersionConflict) if precondition.is_some() => {
                return Err(ModifyError::PreconditionFailed);
            }
            Err(UpdateUserError::VersionConflict) => continue,
            Err(UpdateUserError::Repository(error)) => return Err(ModifyError::Repository(error)),
        }
    }
    Err(ModifyError::Contended)
}
