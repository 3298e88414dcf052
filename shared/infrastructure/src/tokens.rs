//! Access tokens: EdDSA (Ed25519) JWTs made and checked with `jsonwebtoken` over aws-lc-rs
//! (the crypto the SDK's TLS already links). Every function verifies against the public JWK
//! set from its configuration, so there is no key fetch at start-up and no call per request;
//! only the functions that issue tokens hold the private key.

use application::ports::{
    ACCESS_TOKEN_SECONDS, AccessClaims, AccessToken, AccessTokenIssuer, AccessTokenVerifier,
    BoxError, InvalidAccessToken,
};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use domain::{AuthMethods, Role, SessionId, SessionProof, Timestamp, User, UserId};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The media type of access tokens (RFC 9068), in the `typ` header.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Who issues the tokens and for whom: the `iss` and `aud` claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAudience {
    pub issuer: String,
    pub audience: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    role: String,
    iat: i64,
    exp: i64,
    jti: String,
    /// The session (OpenID Connect's `sid`).
    sid: String,
    /// When the user proved who they are in that session, in seconds (OpenID Connect).
    auth_time: i64,
    /// How (RFC 8176).
    amr: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the JWK set is not valid JSON of the expected shape")]
    JwkSet(#[source] serde_json::Error),
    #[error("a key of the JWK set is not an Ed25519 signing key with a kid")]
    NotEd25519,
    #[error("the signing key is not base64 of an Ed25519 PKCS#8 document")]
    SigningKey,
    #[error("no key could be generated")]
    Generation,
}

/// The Ed25519 public keys of a JWK set, each with its `kid`.
fn ed25519_keys(jwk_set: &str) -> Result<JwkSet, KeyError> {
    let set: JwkSet = serde_json::from_str(jwk_set).map_err(KeyError::JwkSet)?;
    for jwk in &set.keys {
        match (&jwk.common.key_id, &jwk.algorithm) {
            (Some(_), AlgorithmParameters::OctetKeyPair(okp))
                if okp.curve == EllipticCurve::Ed25519 => {}
            _ => return Err(KeyError::NotEd25519),
        }
    }
    Ok(set)
}

/// A JWK set as published: checked, and written out without private parts or stray fields.
pub fn public_key_set(jwk_set: &str) -> Result<String, KeyError> {
    let set = ed25519_keys(jwk_set)?;
    serde_json::to_string(&set).map_err(KeyError::JwkSet)
}

/// Checks access tokens against the published keys, by `kid`.
pub struct JwtVerifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl JwtVerifier {
    /// From a JWK set (`{"keys": [...]}`) of Ed25519 public keys, each with its `kid`.
    pub fn new(jwk_set: &str, audience: TokenAudience) -> Result<Self, KeyError> {
        let mut keys = HashMap::new();
        for jwk in ed25519_keys(jwk_set)?.keys {
            let key = DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::NotEd25519)?;
            keys.insert(jwk.common.key_id.unwrap_or_default(), key);
        }
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&audience.issuer]);
        validation.set_audience(&[&audience.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // `sid`, `auth_time` and `amr` are required by the `Claims` type itself.
        // Expiry is checked against the caller's clock below, to the second, with no leeway:
        // issuer and verifier are the same fleet.
        validation.validate_exp = false;
        validation.leeway = 0;
        Ok(Self { keys, validation })
    }
}

impl AccessTokenVerifier for JwtVerifier {
    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, InvalidAccessToken> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| InvalidAccessToken("malformed"))?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(InvalidAccessToken("not an access token"));
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
            .ok_or(InvalidAccessToken("unknown key"))?;
        // `decode` refuses any `alg` but EdDSA (so `none` too) and any foreign signature.
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .map_err(|_| InvalidAccessToken("signature, issuer or audience"))?
            .claims;
        if claims.exp.saturating_mul(1000) <= now.as_millis() {
            return Err(InvalidAccessToken("expired"));
        }
        let invalid_session = || InvalidAccessToken("session");
        let auth_time = claims
            .auth_time
            .checked_mul(1000)
            .and_then(Timestamp::from_millis)
            .ok_or_else(invalid_session)?;
        Ok(AccessClaims {
            user_id: UserId::parse(&claims.sub).map_err(|_| InvalidAccessToken("subject"))?,
            role: Role::parse(&claims.role).ok_or(InvalidAccessToken("role"))?,
            proof: SessionProof {
                session: SessionId::parse(&claims.sid).map_err(|_| invalid_session())?,
                auth_time,
                methods: AuthMethods::from_names(&claims.amr).ok_or_else(invalid_session)?,
            },
        })
    }
}

/// Signs access tokens with the current private key, named by its `kid`.
pub struct JwtIssuer {
    kid: String,
    key: EncodingKey,
    audience: TokenAudience,
}

impl JwtIssuer {
    /// From the private key as base64 of its PKCS#8 document.
    pub fn new(kid: &str, private_key: &str, audience: TokenAudience) -> Result<Self, KeyError> {
        let der = STANDARD
            .decode(private_key.trim())
            .map_err(|_| KeyError::SigningKey)?;
        Ed25519KeyPair::from_pkcs8(&der).map_err(|_| KeyError::SigningKey)?;
        Ok(Self {
            kid: kid.to_owned(),
            key: EncodingKey::from_ed_der(&der),
            audience,
        })
    }
}

impl AccessTokenIssuer for JwtIssuer {
    fn issue(
        &self,
        user: &User,
        proof: &SessionProof,
        now: Timestamp,
    ) -> Result<AccessToken, BoxError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(self.kid.clone());
        let issued_at = now.as_millis().div_euclid(1000);
        let claims = Claims {
            iss: self.audience.issuer.clone(),
            aud: self.audience.audience.clone(),
            sub: user.id().to_string(),
            role: user.role().as_str().to_owned(),
            iat: issued_at,
            exp: issued_at + ACCESS_TOKEN_SECONDS,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: proof.session.to_string(),
            auth_time: proof.auth_time.as_millis().div_euclid(1000),
            amr: proof
                .methods
                .names()
                .iter()
                .map(|name| (*name).to_owned())
                .collect(),
        };
        let token = jsonwebtoken::encode(&header, &claims, &self.key)?;
        Ok(AccessToken {
            token,
            expires_in: ACCESS_TOKEN_SECONDS,
        })
    }
}

/// A new Ed25519 key pair: the private key as base64 of PKCS#8, the public one as a JWK.
pub struct GeneratedKey {
    pub private_key: String,
    pub public: Jwk,
}

pub fn generate_key(kid: &str) -> Result<GeneratedKey, KeyError> {
    let pkcs8 =
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generation)?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyError::Generation)?;
    let public = Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_id: Some(kid.to_owned()),
            key_algorithm: Some(KeyAlgorithm::EdDSA),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
            key_type: OctetKeyPairType::OctetKeyPair,
            curve: EllipticCurve::Ed25519,
            x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        }),
    };
    Ok(GeneratedKey {
        private_key: STANDARD.encode(pkcs8.as_ref()),
        public,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Email, UserName};

    fn audience() -> TokenAudience {
        TokenAudience {
            issuer: "https://users.example".to_owned(),
            audience: "users-api".to_owned(),
        }
    }

    fn set(keys: &[&Jwk]) -> String {
        serde_json::json!({ "keys": keys }).to_string()
    }

    fn ada() -> User {
        User::register(
            UserId::generate(),
            Email::parse("ada@example.com").unwrap(),
            UserName::parse("Ada").unwrap(),
            Timestamp::now(),
        )
    }

    fn proof(now: Timestamp) -> SessionProof {
        SessionProof {
            session: SessionId::start(now),
            auth_time: now,
            methods: AuthMethods::PasswordAndOneTimeCode,
        }
    }

    fn pair(kid: &str) -> (JwtIssuer, GeneratedKey) {
        let key = generate_key(kid).unwrap();
        (
            JwtIssuer::new(kid, &key.private_key, audience()).unwrap(),
            key,
        )
    }

    #[test]
    fn a_token_verifies_with_its_public_key_until_it_expires() {
        let (issuer, key) = pair("k1");
        let verifier = JwtVerifier::new(&set(&[&key.public]), audience()).unwrap();
        let user = ada();
        let now = Timestamp::now();
        let proof = proof(now);
        let token = issuer.issue(&user, &proof, now).unwrap();
        let claims = verifier.verify(&token.token, now).unwrap();
        assert_eq!((claims.user_id, claims.role), (user.id(), Role::User));
        assert_eq!(claims.proof.session, proof.session);
        assert_eq!(claims.proof.methods, AuthMethods::PasswordAndOneTimeCode);
        let seconds = |at: Timestamp| at.as_millis().div_euclid(1000);
        assert_eq!(
            seconds(claims.proof.auth_time),
            seconds(now),
            "auth_time in seconds"
        );
        let (_, payload) = token.token.split_once('.').unwrap();
        let payload = payload.split('.').next().unwrap();
        let payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(payload["sid"], proof.session.to_string());
        assert_eq!(payload["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        assert_eq!(payload["auth_time"], seconds(now));
        let header = jsonwebtoken::decode_header(&token.token).unwrap();
        assert_eq!(
            (header.typ.as_deref(), header.kid.as_deref(), header.alg),
            (Some("at+jwt"), Some("k1"), Algorithm::EdDSA)
        );
        let later = now.plus_seconds(ACCESS_TOKEN_SECONDS).unwrap();
        assert_eq!(
            verifier.verify(&token.token, later),
            Err(InvalidAccessToken("expired"))
        );
    }

    #[test]
    fn during_a_rotation_tokens_of_both_keys_verify_and_a_foreign_key_does_not() {
        let (old, old_key) = pair("old");
        let (new, new_key) = pair("new");
        let (foreign, _) = pair("old");
        let verifier =
            JwtVerifier::new(&set(&[&old_key.public, &new_key.public]), audience()).unwrap();
        let now = Timestamp::now();
        for issuer in [&old, &new] {
            let token = issuer.issue(&ada(), &proof(now), now).unwrap();
            assert!(verifier.verify(&token.token, now).is_ok());
        }
        let forged = foreign.issue(&ada(), &proof(now), now).unwrap();
        assert!(
            verifier.verify(&forged.token, now).is_err(),
            "same kid, other key"
        );
        let unknown = pair("unknown").0.issue(&ada(), &proof(now), now).unwrap();
        assert_eq!(
            verifier.verify(&unknown.token, now),
            Err(InvalidAccessToken("unknown key"))
        );
    }

    #[test]
    fn another_issuer_or_audience_and_alg_none_are_refused() {
        let (issuer, key) = pair("k1");
        let now = Timestamp::now();
        let token = issuer.issue(&ada(), &proof(now), now).unwrap().token;
        for other in [
            TokenAudience {
                issuer: "https://elsewhere.example".to_owned(),
                ..audience()
            },
            TokenAudience {
                audience: "another-api".to_owned(),
                ..audience()
            },
        ] {
            let verifier = JwtVerifier::new(&set(&[&key.public]), other).unwrap();
            assert!(verifier.verify(&token, now).is_err());
        }
        let verifier = JwtVerifier::new(&set(&[&key.public]), audience()).unwrap();
        let (_, payload) = token.split_once('.').unwrap();
        let payload = payload.split('.').next().unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
        for unsigned in [
            format!("{none_header}.{payload}."),
            format!("{none_header}.{payload}"),
        ] {
            assert!(verifier.verify(&unsigned, now).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_refused_or_verified_never_a_panic(token in "\\PC{0,300}", dots in "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,40}") {
            let (_, key) = pair("k1");
            let verifier = JwtVerifier::new(&set(&[&key.public]), audience()).unwrap();
            proptest::prop_assert!(verifier.verify(&token, Timestamp::now()).is_err());
            proptest::prop_assert!(verifier.verify(&dots, Timestamp::now()).is_err());
        }
    }
}
