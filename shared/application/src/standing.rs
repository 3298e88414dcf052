//! Revocation at once (API.md, "Identity"): a use case that reads an account reads the
//! caller's own record and session with it, in the same round trip, and refuses a token that
//! no longer holds. Access tokens are never looked up by themselves.

use crate::ports::{RepositoryError, UserRepository};
use crate::{Caller, Denied, Policy};
use domain::{User, UserId};

/// Reads `subject` (when the command names one) for `caller`, together with the caller's own
/// record, and refuses (`Denied::Revoked`) a caller whose session was ended or revoked, or
/// who acts as an administrator without being an active one any more. An anonymous caller
/// (a public route) reads `subject` alone.
pub(crate) async fn read_for<R, E>(
    users: &R,
    caller: &Caller,
    policy: Policy,
    subject: Option<UserId>,
) -> Result<Option<User>, E>
where
    R: UserRepository,
    E: From<Denied> + From<RepositoryError>,
{
    let Caller::User { id, proof, .. } = caller else {
        return match subject {
            Some(subject) => Ok(users.find(subject).await?),
            None => Ok(None),
        };
    };
    let as_admin = caller.acts_as_admin(policy, subject);
    let (user, record) = users.find_with_caller(subject, *id, proof.session).await?;
    caller.vouched_by(record.account.as_ref(), record.session_stored, as_admin)?;
    Ok(user)
}
