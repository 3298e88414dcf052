//! Argon2id password hashing and reset tokens from the OS random source.

use application::ports::{
    BoxError, HashingError, IssuedToken, PasswordHasher, ResetTokens, TokenHash,
};
use argon2::password_hash::{
    PasswordHash as Phc, PasswordHasher as _, PasswordVerifier as _, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{Password, PasswordHash};
use sha2::{Digest, Sha256};

/// OWASP's recommended Argon2id configuration: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// A hash with the parameters above of a random password nobody knows, so verifying against
/// it costs exactly what a real verification costs.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Y3Vyc2VkLWR1bW15LXNhbHQ$cs0rbRN0bYaDZ/ePFl8jzdgIn1RXbnD5hDIIp5pnVTE";

#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    argon2: Argon2<'static>,
}

impl Default for Argon2Hasher {
    fn default() -> Self {
        // These constants are within Argon2's limits; `Params::DEFAULT` would only be reached
        // if a future edit broke that, and it is the same recommendation.
        let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or_default();
        Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
        }
    }
}

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &Password) -> Result<PasswordHash, HashingError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|error| HashingError(error.to_string().into()))?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|error| HashingError(error.to_string().into()))?;
        let hash = self
            .argon2
            .hash_password(password.expose().as_bytes(), &salt)
            .map_err(|error| HashingError(error.to_string().into()))?;
        Ok(PasswordHash::new(hash.to_string()))
    }

    fn verify(&self, candidate: &str, hash: &PasswordHash) -> bool {
        // The parameters come from the stored hash, so older hashes keep verifying.
        Phc::new(hash.as_phc()).is_ok_and(|parsed| {
            self.argon2
                .verify_password(candidate.as_bytes(), &parsed)
                .is_ok()
        })
    }

    fn verify_dummy(&self, candidate: &str) {
        let _ = self.verify(candidate, &PasswordHash::new(DUMMY_HASH));
    }
}

/// 32 random bytes, base64url: 256 bits nobody can guess. Stored only as SHA-256.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsResetTokens;

impl ResetTokens for OsResetTokens {
    fn issue(&self) -> Result<IssuedToken, BoxError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|error| error.to_string())?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        Ok(IssuedToken {
            hash: self.hash(&token),
            token,
        })
    }

    fn hash(&self, token: &str) -> TokenHash {
        let digest = Sha256::digest(token.as_bytes());
        TokenHash::new(
            digest
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only_and_is_argon2id_with_owasp_parameters() {
        let hasher = Argon2Hasher::default();
        let password = Password::parse("correct horse battery").unwrap();
        let hash = hasher.hash(&password).unwrap();
        assert!(
            hash.as_phc().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_phc()
        );
        assert!(hasher.verify("correct horse battery", &hash));
        assert!(!hasher.verify("correct horse batterY", &hash));
        assert!(!hasher.verify("correct horse battery", &PasswordHash::new("not a hash")));
        assert_ne!(
            hasher.hash(&password).unwrap(),
            hash,
            "a fresh salt every time"
        );
    }

    #[test]
    fn the_dummy_hash_is_a_valid_hash_with_the_same_parameters() {
        let parsed = Phc::new(DUMMY_HASH).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (MEMORY_KIB, PASSES, LANES)
        );
    }

    #[test]
    fn tokens_are_long_url_safe_unique_and_hashed_with_sha256() {
        let tokens = OsResetTokens;
        let (first, second) = (tokens.issue().unwrap(), tokens.issue().unwrap());
        assert_eq!(first.token.len(), 43);
        assert!(
            first
                .token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(first.token, second.token);
        assert_eq!(tokens.hash(&first.token), first.hash);
        assert_eq!(
            tokens.hash("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
