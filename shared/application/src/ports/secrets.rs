//! Secrets the service must read back in plaintext (a token inside an outbox email until the
//! mailer sends it; later a TOTP secret): stored only sealed, under a key no table reader holds.
//!
//! A sealed secret is bound to its context, the user and the purpose: an implementation MUST
//! refuse to open it under any other context, so a ciphertext copied from one user's item to
//! another's, or from an email to a factor, opens for nobody.

use super::BoxError;
use domain::UserId;
use std::future::Future;

/// What a secret is for: half of its context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPurpose {
    /// A password-reset token, inside its email.
    PasswordReset,
    /// An email-change token, inside its email.
    EmailChange,
    /// A TOTP secret, in its factor's item.
    TotpSecret,
}

impl SecretPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password-reset",
            Self::EmailChange => "email-change",
            Self::TotpSecret => "totp-secret",
        }
    }

    pub fn parse(purpose: &str) -> Option<Self> {
        [Self::PasswordReset, Self::EmailChange, Self::TotpSecret]
            .into_iter()
            .find(|known| known.as_str() == purpose)
    }
}

/// Whose secret it is and what for; a sealer binds the ciphertext to both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretContext {
    pub user_id: UserId,
    pub purpose: SecretPurpose,
}

impl SecretContext {
    /// The context of a user's TOTP secret.
    pub fn totp_secret(user_id: UserId) -> Self {
        Self {
            user_id,
            purpose: SecretPurpose::TotpSecret,
        }
    }
}

/// A sealed secret: opaque bytes, safe to store anywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(Vec<u8>);

impl SealedSecret {
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "SealedSecret({} bytes)", self.0.len())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Throttled, timed out or unreachable: worth retrying later.
    #[error("the key service is unavailable")]
    Unavailable(#[source] BoxError),
    /// Refused: no permission, a disabled key, or (opening) a ciphertext that does not belong
    /// to this context or key.
    #[error("the key service refused")]
    Refused(#[source] BoxError),
}

impl From<SealError> for super::RepositoryError {
    /// For use cases that seal before they store: a key service that does not answer is a
    /// 503 like a store that does not, and a refusal is a failure of the service.
    fn from(error: SealError) -> Self {
        match error {
            SealError::Unavailable(source) => Self::Unavailable(source),
            refused @ SealError::Refused(_) => Self::Failed(refused.into()),
        }
    }
}

pub trait SecretSealer: Send + Sync + 'static {
    /// Encrypts `plaintext` bound to `context`.
    fn seal(
        &self,
        plaintext: &[u8],
        context: SecretContext,
    ) -> impl Future<Output = Result<SealedSecret, SealError>> + Send;

    /// The plaintext of `sealed`, only under the context it was sealed with.
    fn open(
        &self,
        sealed: &SealedSecret,
        context: SecretContext,
    ) -> impl Future<Output = Result<Vec<u8>, SealError>> + Send;
}
