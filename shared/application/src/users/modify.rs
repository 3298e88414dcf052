//! Read, change, write back: the one loop every state-changing use case runs.

use super::UserChangeError;
use crate::audit::{self, Outcome};
use crate::ports::{IfMatch, Outgoing, OutgoingEmail, UpdateUserError, UserRepository};
use crate::standing::read_for;
use crate::{Caller, Policy};
use domain::{Changed, User, UserId};

/// Who changes which user: the caller, under the use case's policy (every read of the user
/// checks the caller's own record with it, see `standing`), and the user's id.
#[derive(Clone, Copy)]
pub(crate) struct ChangeOf<'a> {
    pub caller: &'a Caller,
    pub policy: Policy,
    pub id: UserId,
}

/// How often a write that lost a race with another writer is retried from a fresh read.
const ATTEMPTS: usize = 3;

/// Applies `change` to the stored user and writes it back under optimistic locking.
/// A lost race is retried from a fresh read unless the client pinned a version with `If-Match`.
/// An unchanged user is returned as read, without a write. `change` refuses with the error
/// the caller should see.
pub(crate) async fn modify_user<R: UserRepository>(
    users: &R,
    of: ChangeOf<'_>,
    precondition: Option<&IfMatch>,
    change: impl FnMut(&mut User) -> Result<Changed, UserChangeError>,
) -> Result<User, UserChangeError> {
    modify_user_and_tell(users, of, precondition, change, |_, _| Vec::new()).await
}

/// `modify_user`, recording with the change the emails `tell` writes about it (given the user
/// before and after) and the change's events.
pub(crate) async fn modify_user_and_tell<R: UserRepository>(
    users: &R,
    of: ChangeOf<'_>,
    precondition: Option<&IfMatch>,
    mut change: impl FnMut(&mut User) -> Result<Changed, UserChangeError>,
    tell: impl Fn(&User, &User) -> Vec<OutgoingEmail>,
) -> Result<User, UserChangeError> {
    for _ in 0..ATTEMPTS {
        let current = read_for::<R, UserChangeError>(users, of.caller, of.policy, Some(of.id))
            .await?
            .ok_or(UserChangeError::NotFound)?;
        if precondition.is_some_and(|expected| !expected.matches(current.version())) {
            return Err(UserChangeError::PreconditionFailed);
        }
        let mut updated = current.clone();
        if change(&mut updated)? == Changed::No {
            return Ok(current);
        }
        let outbox = Outgoing::of_update(&current, &updated, tell(&current, &updated));
        match users.update(&current, updated, &outbox).await {
            Ok(stored) => return Ok(stored),
            Err(UpdateUserError::EmailTaken) => return Err(UserChangeError::EmailTaken),
            Err(UpdateUserError::LastAdmin) => {
                audit::record(
                    "last_admin",
                    Outcome::Denied,
                    of.caller.user_id(),
                    Some(of.id),
                );
                return Err(UserChangeError::LastAdmin);
            }
            Err(UpdateUserError::VersionConflict) if precondition.is_some() => {
                return Err(UserChangeError::PreconditionFailed);
            }
            Err(UpdateUserError::VersionConflict) => continue,
            Err(UpdateUserError::Repository(error)) => return Err(error.into()),
        }
    }
    Err(UserChangeError::Contended)
}
