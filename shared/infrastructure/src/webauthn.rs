//! The WebAuthn relying party (`PasskeyCeremonies`), by `webauthn_rp`: pure Rust (RustCrypto's
//! Ed25519, P-256, P-384 and RSA), so no OpenSSL to install or cross-compile, and a ceremony's
//! server state encodes to bytes (about 75) that the table keeps between the two requests.
//!
//! Passkeys only: discoverable credentials, user verification required, no attestation. The
//! user handle is the UTF-8 of the user's id (36 bytes). Credentials and assertions are read
//! "relaxed" (unknown members ignored, optional ones optional), as browsers differ in what
//! `toJSON()` writes.

use application::ports::{
    AssertionClaim, BoxError, Ceremony, CredentialId, PasskeyCeremonies, PasskeyCredential,
    PasskeyRefused,
};
use domain::{User, UserId};
use webauthn_rp::bin::{Decode, Encode};
use webauthn_rp::request::auth::AuthenticationVerificationOptions;
use webauthn_rp::request::register::{
    CredProtect, Nickname, PublicKeyCredentialCreationOptions, PublicKeyCredentialUserEntity,
    RegistrationVerificationOptions, UserHandle, Username,
};
use webauthn_rp::request::{
    AsciiDomain, DomainOrigin, ExtensionInfo, PublicKeyCredentialDescriptor, RpId,
};
use webauthn_rp::response::auth::error::AuthCeremonyErr;
use webauthn_rp::response::auth::ser_relaxed::AuthenticationRelaxed;
use webauthn_rp::response::register::error::RegCeremonyErr;
use webauthn_rp::response::register::ser_relaxed::RegistrationRelaxed;
use webauthn_rp::response::register::{CompressedPubKey, DynamicState, StaticState};
use webauthn_rp::response::{AuthTransports, CredentialId as RpCredentialId};
use webauthn_rp::{
    AuthenticatedCredential, DiscoverableAuthenticationServerState,
    DiscoverableCredentialRequestOptions, RegistrationServerState,
};

/// A public key as stored: compressed, whichever its algorithm (Ed25519, P-256, P-384, RSA).
type StoredStaticState = StaticState<CompressedPubKey<[u8; 32], [u8; 32], [u8; 48], Vec<u8>>>;

/// A user handle: the hyphenated UUID of the user's id, as UTF-8.
const USER_HANDLE_LEN: usize = 36;

/// The relying party: its id (a domain) and the origins its pages are served from.
#[derive(Debug, Clone)]
pub struct WebAuthnRelyingParty {
    rp_id: RpId,
    /// Each one parsed at construction, so a request never meets a malformed one.
    origins: Vec<String>,
}

impl WebAuthnRelyingParty {
    /// `rp_id` a domain (`localhost`, `example.com`); `origins` the full origins of the pages
    /// that call the API (`https://app.example.com`, `http://localhost:9000`).
    pub fn new(rp_id: &str, origins: &[String]) -> Result<Self, BoxError> {
        let rp_id = RpId::Domain(AsciiDomain::try_from(rp_id.to_owned())?);
        if origins.is_empty() {
            return Err("a relying party needs at least one allowed origin".into());
        }
        for origin in origins {
            // `scheme://host[:port]`, http(s) only: what a browser puts in `clientDataJSON`.
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let parsed = DomainOrigin::try_from(origin.as_str());
            if host.is_none_or(|host| host.is_empty() || host.contains('/')) || parsed.is_err() {
                return Err(format!("{origin:?} is not an origin (https://host[:port])").into());
            }
        }
        Ok(Self {
            rp_id,
            origins: origins.to_vec(),
        })
    }

    fn allowed_origins(&self) -> Vec<DomainOrigin<'_, '_>> {
        self.origins
            .iter()
            .filter_map(|origin| DomainOrigin::try_from(origin.as_str()).ok())
            .collect()
    }
}

fn user_handle(id: UserId) -> UserHandle<USER_HANDLE_LEN> {
    let mut bytes = [0; USER_HANDLE_LEN];
    bytes.copy_from_slice(id.to_string().as_bytes());
    UserHandle::from(bytes)
}

fn user_of(handle: &UserHandle<USER_HANDLE_LEN>) -> Result<UserId, PasskeyRefused> {
    std::str::from_utf8(handle.as_ref())
        .ok()
        .and_then(|text| UserId::parse(text).ok())
        .ok_or(PasskeyRefused::Failed)
}

fn registration_refusal(error: RegCeremonyErr) -> PasskeyRefused {
    match error {
        RegCeremonyErr::Timeout => PasskeyRefused::Expired,
        _ => PasskeyRefused::Failed,
    }
}

fn sign_in_refusal(error: AuthCeremonyErr) -> PasskeyRefused {
    match error {
        AuthCeremonyErr::Timeout => PasskeyRefused::Expired,
        AuthCeremonyErr::SignatureCounter => PasskeyRefused::CounterWentBack,
        _ => PasskeyRefused::Failed,
    }
}

impl PasskeyCeremonies for WebAuthnRelyingParty {
    fn start_registration(
        &self,
        user: &User,
        exclude: &[CredentialId],
    ) -> Result<Ceremony, BoxError> {
        let handle = user_handle(user.id());
        let entity = PublicKeyCredentialUserEntity {
            name: Username::try_from(user.email().as_str())?,
            id: &handle,
            display_name: Some(Nickname::try_from(user.name().as_str())?),
        };
        let exclude = exclude
            .iter()
            .map(|id| {
                Ok(PublicKeyCredentialDescriptor {
                    id: RpCredentialId::try_from(id.as_bytes().to_vec())?,
                    transports: AuthTransports::NONE,
                })
            })
            .collect::<Result<Vec<_>, BoxError>>()?;
        let mut options = PublicKeyCredentialCreationOptions::passkey(&self.rp_id, entity, exclude);
        // Ask authenticators to protect the credential with user verification, without
        // refusing those that cannot: enforcing it fails `create()` on authenticators without
        // credProtect (Chromium's virtual one among them), and every sign-in requires user
        // verification anyway.
        options.extensions.cred_protect =
            CredProtect::UserVerificationRequired(ExtensionInfo::AllowDontEnforceValue);
        let (server, client) = options.start_ceremony()?;
        Ok(Ceremony {
            options_json: serde_json::to_string(&client)?,
            state: server.encode()?,
        })
    }

    fn finish_registration(
        &self,
        state: &[u8],
        credential_json: &str,
    ) -> Result<PasskeyCredential, PasskeyRefused> {
        let server = RegistrationServerState::<USER_HANDLE_LEN>::decode(state)
            .map_err(|_| PasskeyRefused::Malformed)?;
        let registration = serde_json::from_str::<RegistrationRelaxed>(credential_json)
            .map_err(|_| PasskeyRefused::Malformed)?
            .0;
        let origins = self.allowed_origins();
        let options = RegistrationVerificationOptions::<DomainOrigin, DomainOrigin> {
            allowed_origins: &origins,
            ..RegistrationVerificationOptions::default()
        };
        let registered = server
            .verify(&self.rp_id, &registration, &options)
            .map_err(registration_refusal)?;
        let encode_failed = |_| PasskeyRefused::Malformed;
        Ok(PasskeyCredential {
            id: CredentialId::new(registered.id().as_ref().to_vec()),
            user_id: user_of(registered.user_id())?,
            static_state: registered.static_state().encode().map_err(encode_failed)?,
            dynamic_state: registered
                .dynamic_state()
                .encode()
                .map_err(encode_failed)?
                .to_vec(),
        })
    }

    fn start_sign_in(&self) -> Result<Ceremony, BoxError> {
        let (server, client) =
            DiscoverableCredentialRequestOptions::passkey(&self.rp_id).start_ceremony()?;
        Ok(Ceremony {
            options_json: serde_json::to_string(&client)?,
            state: server.encode()?,
        })
    }

    fn claim_of(&self, assertion_json: &str) -> Result<AssertionClaim, PasskeyRefused> {
        let assertion =
            serde_json::from_str::<AuthenticationRelaxed<USER_HANDLE_LEN, true>>(assertion_json)
                .map_err(|_| PasskeyRefused::Malformed)?
                .0;
        Ok(AssertionClaim {
            credential_id: CredentialId::new(assertion.raw_id().as_ref().to_vec()),
            user_id: user_of(assertion.response().user_handle())?,
        })
    }

    fn finish_sign_in(
        &self,
        state: &[u8],
        assertion_json: &str,
        stored: &PasskeyCredential,
    ) -> Result<Vec<u8>, PasskeyRefused> {
        let server = DiscoverableAuthenticationServerState::decode(state)
            .map_err(|_| PasskeyRefused::Malformed)?;
        let assertion =
            serde_json::from_str::<AuthenticationRelaxed<USER_HANDLE_LEN, true>>(assertion_json)
                .map_err(|_| PasskeyRefused::Malformed)?
                .0;
        let handle = user_handle(stored.user_id);
        let static_state = StoredStaticState::decode(&stored.static_state)
            .map_err(|_| PasskeyRefused::Malformed)?;
        let dynamic_state = <[u8; 7]>::try_from(stored.dynamic_state.as_slice())
            .ok()
            .and_then(|bytes| DynamicState::decode(bytes).ok())
            .ok_or(PasskeyRefused::Malformed)?;
        let id = RpCredentialId::try_from(stored.id.as_bytes())
            .map_err(|_| PasskeyRefused::Malformed)?;
        let mut credential = AuthenticatedCredential::new(id, &handle, static_state, dynamic_state)
            .map_err(|_| PasskeyRefused::Malformed)?;
        let origins = self.allowed_origins();
        let options = AuthenticationVerificationOptions::<DomainOrigin, DomainOrigin> {
            allowed_origins: &origins,
            ..AuthenticationVerificationOptions::default()
        };
        server
            .verify(&self.rp_id, &assertion, &mut credential, &options)
            .map_err(sign_in_refusal)?;
        Ok(credential
            .dynamic_state()
            .encode()
            .map_err(|_| PasskeyRefused::Malformed)?
            .to_vec())
    }
}
