//! A passkey authenticator built here, for the tests and the bench: an Ed25519 credential that
//! answers creation and request options as a browser's `toJSON()` would, with knobs for what a
//! test wants wrong (origin, user verification, counter, key).
// Test equipment: options the service did not write well are a failed test or run.
#![allow(clippy::unwrap_used)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use ciborium::value::Value;
use domain::UserId;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const ORIGIN: &str = "http://localhost:9000";

/// User present, user verified, attested credential data.
pub const UP: u8 = 0x01;
pub const UV: u8 = 0x04;
pub const AT: u8 = 0x40;

#[derive(Debug)]
pub struct Authenticator {
    pub key: SigningKey,
    pub credential_id: Vec<u8>,
    pub origin: String,
    pub flags: u8,
}

impl Authenticator {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
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

    /// `navigator.credentials.create()`'s answer to the creation options `options_json`, as `toJSON()` gives it.
    pub fn create(&self, options_json: &str) -> String {
        let options: serde_json::Value = serde_json::from_str(options_json).unwrap();
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
        self.credential_json(json!({
            "clientDataJSON": BASE64URL.encode(&client_data),
            "attestationObject": BASE64URL.encode(&attestation_object),
            "transports": ["internal"],
        }))
    }

    /// `navigator.credentials.get()`'s answer to the request options `options_json`, as `user`'s, with `counter`.
    pub fn get(&self, options_json: &str, user: UserId, counter: u32) -> String {
        let options: serde_json::Value = serde_json::from_str(options_json).unwrap();
        let client_data = self.client_data("webauthn.get", &options);
        let authenticator_data = self.authenticator_data(counter, false);
        let mut signed = authenticator_data.clone();
        signed.extend(Sha256::digest(client_data.as_bytes()));
        let signature = self.key.sign(&signed);
        self.credential_json(json!({
            "clientDataJSON": BASE64URL.encode(&client_data),
            "authenticatorData": BASE64URL.encode(&authenticator_data),
            "signature": BASE64URL.encode(signature.to_bytes()),
            "userHandle": BASE64URL.encode(user.to_string()),
        }))
    }

    /// The credential around an authenticator's `response`, as `toJSON()` gives it.
    fn credential_json(&self, response: serde_json::Value) -> String {
        json!({
            "id": BASE64URL.encode(&self.credential_id),
            "rawId": BASE64URL.encode(&self.credential_id),
            "type": "public-key",
            "response": response,
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        })
        .to_string()
    }
}
