//! Passkeys (API.md, "Passkeys"): the relying party's side of WebAuthn's two ceremonies,
//! registration and sign-in, with discoverable credentials and user verification required.
//!
//! Options and credentials cross this port as the WebAuthn JSON encoding (what a browser's
//! `PublicKeyCredential.parseCreationOptionsFromJSON` takes and `credential.toJSON()` gives),
//! and a ceremony's server state as opaque bytes for the store: the adapter alone knows CBOR,
//! COSE and the signature algorithms.

use super::{BoxError, Outgoing, RepositoryError};
use domain::{CeremonyId, PasskeyId, PasskeyName, Timestamp, User, UserId};
use std::future::Future;

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

/// How long a ceremony's state waits for its answer.
pub const CEREMONY_SECONDS: i64 = 5 * 60;

/// A passkey as the service keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    pub id: PasskeyId,
    pub name: PasskeyName,
    pub credential: PasskeyCredential,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A ceremony's state as stored between its two requests, single use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCeremony {
    pub id: CeremonyId,
    /// The user registering; none for a sign-in (a discoverable credential names its user).
    pub user_id: Option<UserId>,
    pub state: Vec<u8>,
    pub started_at: Timestamp,
}

impl PendingCeremony {
    /// Whether its answer may still come at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.started_at
            .plus_seconds(CEREMONY_SECONDS)
            .is_some_and(|end| now < end)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasskeyWriteError {
    /// A passkey with this credential id is registered already (to this user or another).
    #[error("the credential is registered already")]
    CredentialTaken,
    /// The owner is no longer at the version read (or no longer active): read it again.
    #[error("the user changed since it was read")]
    UserChanged,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// The users' passkeys and the ceremonies under way, in the table beside the users.
pub trait PasskeyStore: Send + Sync + 'static {
    /// The user's passkeys, oldest first.
    fn passkeys(
        &self,
        user_id: UserId,
    ) -> impl Future<Output = Result<Vec<Passkey>, RepositoryError>> + Send;

    /// Stores a ceremony's state until it is taken or expires.
    fn start_ceremony(
        &self,
        ceremony: &PendingCeremony,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// The ceremony stored under `id`, deleted in the same write: of two requests with one
    /// id, one gets it. `None` when there is none (unknown, taken, or gone by TTL).
    fn take_ceremony(
        &self,
        id: CeremonyId,
    ) -> impl Future<Output = Result<Option<PendingCeremony>, RepositoryError>> + Send;

    /// Stores `passkey` for its user `owner` (as read) with `outbox`, in one write that also
    /// moves the owner to its next version (a passkey is a change of the account, and its
    /// event carries that version); MUST refuse (`CredentialTaken`) when any passkey has its
    /// credential id and (`UserChanged`) when the owner is no longer active at the version read.
    fn add(
        &self,
        passkey: &Passkey,
        owner: &User,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<(), PasskeyWriteError>> + Send;

    /// Deletes `passkey` (as read from `passkeys`) and its credential claim with `outbox`, in
    /// one write that moves `owner` to its next version: `false` when the passkey is gone
    /// already (nothing written); `UserChanged` as for `add`, except that the owner may be
    /// suspended.
    fn remove(
        &self,
        passkey: &Passkey,
        owner: &User,
        outbox: &Outgoing,
    ) -> impl Future<Output = Result<bool, PasskeyWriteError>> + Send;

    /// The passkey with this credential id, whoever's it is.
    fn by_credential(
        &self,
        credential_id: &CredentialId,
    ) -> impl Future<Output = Result<Option<Passkey>, RepositoryError>> + Send;

    /// Records a sign-in with `passkey`: its new dynamic state and `last_used_at`, only if the
    /// stored dynamic state is still `passkey`'s (so of two sign-ins with one counter value,
    /// one is recorded): `false` when it is not.
    fn record_use(
        &self,
        passkey: &Passkey,
        dynamic_state: &[u8],
        at: Timestamp,
    ) -> impl Future<Output = Result<bool, RepositoryError>> + Send;
}
