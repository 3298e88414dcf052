//! The WebAuthn relying party against an authenticator built here: an Ed25519 passkey that
//! answers creation and request options as a browser's `toJSON()` would, with knobs for what
//! a test wants wrong (origin, user verification, counter, key).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use application::ports::{Ceremony, PasskeyCeremonies, PasskeyCredential, PasskeyRefused};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use ciborium::value::Value;
use domain::{Email, Timestamp, User, UserId, UserName};
use ed25519_dalek::{Signer, SigningKey};
use infrastructure::webauthn::WebAuthnRelyingParty;
use serde_json::json;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "http://localhost:9000";

/// User present, user verified, attested credential data.
const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

struct Authenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    origin: String,
    flags: u8,
}

impl Authenticator {
    fn new() -> Self {
        let mut secret = [0; 32];
        getrandom::fill(&mut secret).unwrap();
        let mut credential_id = vec![0; 16];
        getrandom::fill(&mut credential_id).unwrap();
        Self {
            key: SigningKey::from_bytes(&secret),
            credential_id,
            origin: ORIGIN.to_owned(),
            flags: UP | UV,
        }
    }

    fn client_data(&self, kind: &str, options: &serde_json::Value) -> String {
        json!({
            "type": kind,
            "challenge": options["challenge"],
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
    }

    fn authenticator_data(&self, counter: u32, attested: bool) -> Vec<u8> {
        let mut data = Sha256::digest(b"localhost").to_vec();
        data.push(if attested {
            self.flags | AT
        } else {
            self.flags
        });
        data.extend(counter.to_be_bytes());
        if attested {
            data.extend([0; 16]);
            data.extend(
                u16::try_from(self.credential_id.len())
                    .unwrap()
                    .to_be_bytes(),
            );
            data.extend(&self.credential_id);
            // The COSE key: OKP, EdDSA, Ed25519, x.
            let key = Value::Map(vec![
                (Value::Integer(1.into()), Value::Integer(1.into())),
                (Value::Integer(3.into()), Value::Integer((-8).into())),
                (Value::Integer((-1).into()), Value::Integer(6.into())),
                (
                    Value::Integer((-2).into()),
                    Value::Bytes(self.key.verifying_key().as_bytes().to_vec()),
                ),
            ]);
            ciborium::into_writer(&key, &mut data).unwrap();
        }
        data
    }

    /// `navigator.credentials.create()`'s answer to `ceremony`, as `toJSON()` gives it.
    fn create(&self, ceremony: &Ceremony) -> String {
        let options: serde_json::Value = serde_json::from_str(&ceremony.options_json).unwrap();
        let client_data = self.client_data("webauthn.create", &options);
        let attestation = Value::Map(vec![
            (Value::Text("fmt".into()), Value::Text("none".into())),
            (Value::Text("attStmt".into()), Value::Map(vec![])),
            (
                Value::Text("authData".into()),
                Value::Bytes(self.authenticator_data(0, true)),
            ),
        ]);
        let mut attestation_object = Vec::new();
        ciborium::into_writer(&attestation, &mut attestation_object).unwrap();
        json!({
            "id": BASE64URL.encode(&self.credential_id),
            "rawId": BASE64URL.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": BASE64URL.encode(&client_data),
                "attestationObject": BASE64URL.encode(&attestation_object),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
        .to_string()
    }

    /// `navigator.credentials.get()`'s answer to `ceremony` for `user`, with `counter`.
    fn get(&self, ceremony: &Ceremony, user: UserId, counter: u32) -> String {
        let options: serde_json::Value = serde_json::from_str(&ceremony.options_json).unwrap();
        let client_data = self.client_data("webauthn.get", &options);
        let authenticator_data = self.authenticator_data(counter, false);
        let mut signed = authenticator_data.clone();
        signed.extend(Sha256::digest(client_data.as_bytes()));
        let signature = self.key.sign(&signed);
        json!({
            "id": BASE64URL.encode(&self.credential_id),
            "rawId": BASE64URL.encode(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": BASE64URL.encode(&client_data),
                "authenticatorData": BASE64URL.encode(&authenticator_data),
                "signature": BASE64URL.encode(signature.to_bytes()),
                "userHandle": BASE64URL.encode(user.to_string()),
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
        .to_string()
    }
}

fn relying_party() -> WebAuthnRelyingParty {
    WebAuthnRelyingParty::new("localhost", &[ORIGIN.to_owned()]).unwrap()
}

fn ada() -> User {
    User::register(
        UserId::generate(),
        Email::parse("ada@example.com").unwrap(),
        UserName::parse("Ada Lovelace").unwrap(),
        Timestamp::now(),
    )
}

/// Ada's passkey, registered with `authenticator`.
fn registered(
    rp: &WebAuthnRelyingParty,
    user: &User,
    authenticator: &Authenticator,
) -> PasskeyCredential {
    let ceremony = rp.start_registration(user, &[]).unwrap();
    rp.finish_registration(&ceremony.state, &authenticator.create(&ceremony))
        .unwrap()
}

#[test]
fn a_passkey_registers_and_signs_in_and_its_counter_moves_on() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let ceremony = rp.start_registration(&user, &[]).unwrap();
    let options: serde_json::Value = serde_json::from_str(&ceremony.options_json).unwrap();
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(
        options["user"]["id"],
        BASE64URL.encode(user.id().to_string()),
        "the user handle is the UTF-8 of the user's id"
    );
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    let algorithms: Vec<i64> = options["pubKeyCredParams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|param| param["alg"].as_i64().unwrap())
        .collect();
    assert!(
        algorithms.contains(&-8) && algorithms.contains(&-7),
        "EdDSA and ES256"
    );

    let passkey = rp
        .finish_registration(&ceremony.state, &authenticator.create(&ceremony))
        .unwrap();
    assert_eq!(passkey.id.as_bytes(), authenticator.credential_id);
    assert_eq!(passkey.user_id, user.id());

    let sign_in = rp.start_sign_in().unwrap();
    let request: serde_json::Value = serde_json::from_str(&sign_in.options_json).unwrap();
    assert_eq!(request["userVerification"], "required");
    assert_eq!(
        request["allowCredentials"],
        json!([]),
        "discoverable: none named"
    );
    let assertion = authenticator.get(&sign_in, user.id(), 1);
    let claim = rp.claim_of(&assertion).unwrap();
    assert_eq!(
        (claim.credential_id, claim.user_id),
        (passkey.id.clone(), user.id())
    );
    let moved_on = rp
        .finish_sign_in(&sign_in.state, &assertion, &passkey)
        .unwrap();
    assert_ne!(moved_on, passkey.dynamic_state, "the counter is 1 now");
}

#[test]
fn a_wrong_origin_or_no_user_verification_fails_registration() {
    let rp = relying_party();
    let user = ada();
    let mut elsewhere = Authenticator::new();
    elsewhere.origin = "https://evil.example".to_owned();
    let ceremony = rp.start_registration(&user, &[]).unwrap();
    assert_eq!(
        rp.finish_registration(&ceremony.state, &elsewhere.create(&ceremony)),
        Err(PasskeyRefused::Failed)
    );
    let mut unverified = Authenticator::new();
    unverified.flags = UP;
    let ceremony = rp.start_registration(&user, &[]).unwrap();
    assert_eq!(
        rp.finish_registration(&ceremony.state, &unverified.create(&ceremony)),
        Err(PasskeyRefused::Failed)
    );
    assert_eq!(
        rp.finish_registration(&ceremony.state, "{\"id\": 1}"),
        Err(PasskeyRefused::Malformed)
    );
}

#[test]
fn an_answer_to_another_ceremonys_challenge_fails() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let first = rp.start_registration(&user, &[]).unwrap();
    let second = rp.start_registration(&user, &[]).unwrap();
    assert_eq!(
        rp.finish_registration(&second.state, &authenticator.create(&first)),
        Err(PasskeyRefused::Failed)
    );
    let passkey = registered(&rp, &user, &authenticator);
    let one = rp.start_sign_in().unwrap();
    let other = rp.start_sign_in().unwrap();
    let assertion = authenticator.get(&one, user.id(), 1);
    assert_eq!(
        rp.finish_sign_in(&other.state, &assertion, &passkey),
        Err(PasskeyRefused::Failed)
    );
}

#[test]
fn a_counter_that_goes_backwards_or_stands_still_is_refused() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let mut passkey = registered(&rp, &user, &authenticator);
    let sign_in = rp.start_sign_in().unwrap();
    passkey.dynamic_state = rp
        .finish_sign_in(
            &sign_in.state,
            &authenticator.get(&sign_in, user.id(), 5),
            &passkey,
        )
        .unwrap();
    for counter in [3, 5] {
        let again = rp.start_sign_in().unwrap();
        assert_eq!(
            rp.finish_sign_in(
                &again.state,
                &authenticator.get(&again, user.id(), counter),
                &passkey
            ),
            Err(PasskeyRefused::CounterWentBack),
            "counter {counter}"
        );
    }
}

#[test]
fn another_key_or_another_users_handle_fails_sign_in() {
    let rp = relying_party();
    let user = ada();
    let authenticator = Authenticator::new();
    let passkey = registered(&rp, &user, &authenticator);
    let mut impostor = Authenticator::new();
    impostor.credential_id = authenticator.credential_id.clone();
    let sign_in = rp.start_sign_in().unwrap();
    assert_eq!(
        rp.finish_sign_in(
            &sign_in.state,
            &impostor.get(&sign_in, user.id(), 1),
            &passkey
        ),
        Err(PasskeyRefused::Failed),
        "a signature of another key"
    );
    let sign_in = rp.start_sign_in().unwrap();
    let someone_else = authenticator.get(&sign_in, UserId::generate(), 1);
    assert_eq!(
        rp.finish_sign_in(&sign_in.state, &someone_else, &passkey),
        Err(PasskeyRefused::Failed),
        "the handle of another user"
    );
    let mut unverified = Authenticator::new();
    unverified.key = authenticator.key.clone();
    unverified.credential_id = authenticator.credential_id.clone();
    unverified.flags = UP;
    let sign_in = rp.start_sign_in().unwrap();
    assert_eq!(
        rp.finish_sign_in(
            &sign_in.state,
            &unverified.get(&sign_in, user.id(), 1),
            &passkey
        ),
        Err(PasskeyRefused::Failed),
        "no user verification"
    );
}

#[test]
fn a_relying_party_needs_a_domain_and_real_origins() {
    assert!(WebAuthnRelyingParty::new("localhost", &[]).is_err());
    assert!(WebAuthnRelyingParty::new("localhost", &["not an origin".to_owned()]).is_err());
    assert!(WebAuthnRelyingParty::new("", &[ORIGIN.to_owned()]).is_err());
}
