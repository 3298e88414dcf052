//! Passkeys (API.md, "Passkeys"): the relying party's side of WebAuthn's two ceremonies,
//! registration and sign-in, with discoverable credentials and user verification required.
//!
//! Options and credentials cross this port as the WebAuthn JSON encoding (what a browser's
//! `PublicKeyCredential.parseCreationOptionsFromJSON` takes and `credential.toJSON()` gives),
//! and a ceremony's server state as opaque bytes for the store: the adapter alone knows CBOR,
//! COSE and the signature algorithms.

use super::BoxError;
use domain::{User, UserId};

/// A ceremony started: the options for the browser, and the state that must come back to
/// finish it (stored server-side, single use).
#[derive(Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// The `publicKey` member of the options, as WebAuthn JSON.
    pub options_json: String,
    /// Opaque to everyone but the adapter; holds the challenge and the ceremony's expiry.
    pub state: Vec<u8>,
}

impl std::fmt::Debug for Ceremony {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Ceremony")
            .field("state", &format_args!("{} bytes", self.state.len()))
            .finish_non_exhaustive()
    }
}

/// A credential's id, as the authenticator chose it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialId(Vec<u8>);

impl CredentialId {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// What the relying party keeps of a registered passkey: its public key (with what the
/// registration learned of it) and its changing state (the signature counter), each opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyCredential {
    pub id: CredentialId,
    pub user_id: UserId,
    /// The public key and its algorithm; never changes.
    pub static_state: Vec<u8>,
    /// The signature counter and the flags of the last ceremony; changes with each sign-in.
    pub dynamic_state: Vec<u8>,
}

/// Who an assertion says it is, read before its signature is checked, to find its passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionClaim {
    pub credential_id: CredentialId,
    /// The user handle the authenticator returned: the user's id.
    pub user_id: UserId,
}

/// Why a credential or an assertion was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasskeyRefused {
    /// Not WebAuthn JSON of the expected ceremony, or a ceremony state that is not one.
    #[error("the credential is not well formed")]
    Malformed,
    /// The ceremony's time (5 minutes) is up.
    #[error("the ceremony expired")]
    Expired,
    /// Wrong challenge, origin or relying party, no user presence or verification, an
    /// algorithm not offered, a bad signature, or a credential of another user.
    #[error("the credential failed verification")]
    Failed,
    /// The authenticator's signature counter is not above the stored one: a cloned
    /// authenticator, or a replayed assertion.
    #[error("the signature counter went backwards")]
    CounterWentBack,
}

pub trait PasskeyCeremonies: Send + Sync + 'static {
    /// Creation options for a new passkey of `user` (user handle: the UTF-8 bytes of its id;
    /// resident key and user verification required), excluding the credentials in `exclude`.
    fn start_registration(
        &self,
        user: &User,
        exclude: &[CredentialId],
    ) -> Result<Ceremony, BoxError>;

    /// Verifies `credential_json` (a `PublicKeyCredential`'s `toJSON()`) against the
    /// registration `state`: challenge, origin, relying party, user verification, algorithm.
    fn finish_registration(
        &self,
        state: &[u8],
        credential_json: &str,
    ) -> Result<PasskeyCredential, PasskeyRefused>;

    /// Request options for a sign-in with any discoverable credential (none named).
    fn start_sign_in(&self) -> Result<Ceremony, BoxError>;

    /// The credential and user an assertion names, before anything of it is verified.
    fn claim_of(&self, assertion_json: &str) -> Result<AssertionClaim, PasskeyRefused>;

    /// Verifies `assertion_json` against the sign-in `state` and `stored`, the passkey it
    /// names: the dynamic state to store on success (its counter moved on).
    fn finish_sign_in(
        &self,
        state: &[u8],
        assertion_json: &str,
        stored: &PasskeyCredential,
    ) -> Result<Vec<u8>, PasskeyRefused>;
}
