//! `OneTimePasswords` with `totp-rs` (RFC 6238 codes, the `otpauth://` URI, base32) and the
//! OS random source. Codes are compared in constant time (aws-lc-rs); which step matched is
//! worked out here, since a code must be accepted once per user.

use application::ports::{
    BoxError, IssuedToken, OneTimePasswords, Provisioning, RECOVERY_CODES, TokenHash, TotpSecret,
    TotpStep,
};
use base64::Engine;
use domain::Timestamp;
use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Secret, TOTP};

const DIGITS: usize = 6;
const STEP_SECONDS: u64 = 30;
/// 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// 10 bytes: 16 base32 characters, 80 bits, read as four groups of four.
const RECOVERY_CODE_BYTES: usize = 10;
const RECOVERY_GROUP: usize = 4;

#[derive(Debug, Clone)]
pub struct Rfc6238 {
    /// The issuer an authenticator app shows above the account (`TOTP_ISSUER`).
    issuer: String,
}

impl Rfc6238 {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
        }
    }

    fn totp(&self, secret: &TotpSecret, label: &str) -> Result<TOTP, BoxError> {
        Ok(TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            1,
            STEP_SECONDS,
            secret.as_bytes().to_vec(),
            Some(self.issuer.clone()),
            label.to_owned(),
        )?)
    }
}

fn random_bytes(count: usize) -> Result<Vec<u8>, BoxError> {
    let mut bytes = vec![0; count];
    getrandom::fill(&mut bytes).map_err(|error| error.to_string())?;
    Ok(bytes)
}

/// A recovery code as stored: uppercase, no spaces or dashes.
fn normalized(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

impl OneTimePasswords for Rfc6238 {
    fn new_secret(&self) -> Result<TotpSecret, BoxError> {
        Ok(TotpSecret::from_bytes(random_bytes(SECRET_BYTES)?))
    }

    fn provisioning(&self, secret: &TotpSecret, label: &str) -> Result<Provisioning, BoxError> {
        let totp = self.totp(secret, label)?;
        Ok(Provisioning {
            secret: totp.get_secret_base32(),
            otpauth_uri: totp.get_url(),
        })
    }

    fn verify(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: Timestamp,
        last_accepted: Option<TotpStep>,
    ) -> Option<TotpStep> {
        if code.len() != DIGITS || !code.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        // The label plays no part in a code.
        let totp = self.totp(secret, "-").ok()?;
        let current = u64::try_from(now.as_millis() / 1000).ok()? / STEP_SECONDS;
        let earliest = last_accepted.map_or(0, |step| step.get().saturating_add(1));
        // Every candidate is computed and compared, so the time taken says nothing of which
        // (if any) matched.
        let mut matched = None;
        for step in [
            current.saturating_sub(1),
            current,
            current.saturating_add(1),
        ] {
            let expected = totp.generate(step.saturating_mul(STEP_SECONDS));
            let equal = aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                code.as_bytes(),
            )
            .is_ok();
            if equal && step >= earliest && matched.is_none() {
                matched = Some(TotpStep::new(step));
            }
        }
        matched
    }

    fn recovery_codes(&self) -> Result<Vec<IssuedToken>, BoxError> {
        (0..RECOVERY_CODES)
            .map(|_| {
                let Secret::Encoded(plain) =
                    Secret::Raw(random_bytes(RECOVERY_CODE_BYTES)?).to_encoded()
                else {
                    return Err("base32 encoding gave no text".into());
                };
                let grouped = plain
                    .as_bytes()
                    .chunks(RECOVERY_GROUP)
                    .map(|group| String::from_utf8_lossy(group).into_owned())
                    .collect::<Vec<_>>()
                    .join("-");
                Ok(IssuedToken {
                    hash: self.recovery_code_hash(&grouped),
                    token: grouped,
                })
            })
            .collect()
    }

    fn recovery_code_hash(&self, code: &str) -> TokenHash {
        let digest = Sha256::digest(normalized(code).as_bytes());
        TokenHash::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6238's SHA-1 seed, "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_millis(seconds * 1000).unwrap()
    }

    #[test]
    fn the_rfcs_test_vectors_hold_in_six_digits() {
        // RFC 6238, appendix B (SHA-1): 94287082 at 59 s, 07081804 at 1111111109 s; the last six
        // digits are the 6-digit codes.
        let otp = Rfc6238::new("Users");
        let at_59 = otp.verify(&rfc_secret(), "287082", at(59), None);
        assert_eq!(at_59, Some(TotpStep::new(1)));
        let later = otp.verify(&rfc_secret(), "081804", at(1_111_111_109), None);
        assert_eq!(later, Some(TotpStep::new(1_111_111_109 / 30)));
    }

    #[test]
    fn one_step_of_drift_either_way_and_no_more() {
        let otp = Rfc6238::new("Users");
        // The code of step 1 (30..59 s).
        for seconds in [0, 30, 59, 60, 89] {
            assert!(
                otp.verify(&rfc_secret(), "287082", at(seconds), None)
                    .is_some(),
                "{seconds} s"
            );
        }
        assert_eq!(otp.verify(&rfc_secret(), "287082", at(90), None), None);
    }

    #[test]
    fn a_code_is_accepted_once_and_an_earlier_steps_code_never_after() {
        let otp = Rfc6238::new("Users");
        let accepted = otp.verify(&rfc_secret(), "287082", at(59), None).unwrap();
        assert_eq!(
            otp.verify(&rfc_secret(), "287082", at(59), Some(accepted)),
            None
        );
        let next = TOTP::new(
            Algorithm::SHA1,
            6,
            1,
            30,
            b"12345678901234567890".to_vec(),
            None,
            "x".to_owned(),
        )
        .unwrap()
        .generate(60);
        assert_eq!(
            otp.verify(&rfc_secret(), &next, at(61), Some(accepted)),
            Some(TotpStep::new(2))
        );
    }

    #[test]
    fn the_uri_names_the_issuer_and_label_and_carries_the_base32_secret() {
        let otp = Rfc6238::new("Users Example");
        let secret = otp.new_secret().unwrap();
        assert_eq!(secret.as_bytes().len(), 20);
        let provisioning = otp.provisioning(&secret, "a***@example.com").unwrap();
        assert_eq!(provisioning.secret.len(), 32, "160 bits in base32");
        assert!(
            provisioning
                .otpauth_uri
                .starts_with("otpauth://totp/Users%20Example:a%2A%2A%2A%40example.com?secret="),
            "{}",
            provisioning.otpauth_uri
        );
        assert!(provisioning.otpauth_uri.contains(&provisioning.secret));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_80_bit_codes_hashed_however_they_are_typed() {
        let otp = Rfc6238::new("Users");
        let codes = otp.recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::BTreeSet<_> =
            codes.iter().map(|code| code.token.clone()).collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        let first = &codes[0];
        assert_eq!(
            first.token.len(),
            19,
            "XXXX-XXXX-XXXX-XXXX: {}",
            first.token
        );
        let typed = first.token.to_lowercase().replace('-', " ");
        assert_eq!(otp.recovery_code_hash(&typed), first.hash);
        assert_ne!(otp.recovery_code_hash("AAAA-AAAA-AAAA-AAAA"), first.hash);
    }

    proptest! {
        #[test]
        fn any_code_at_any_time_is_checked_without_a_panic(
            code in ".{0,12}",
            millis in proptest::num::i64::ANY,
            last in proptest::option::of(proptest::num::u64::ANY),
        ) {
            let otp = Rfc6238::new("Users");
            if let Some(now) = Timestamp::from_millis(millis) {
                let _ = otp.verify(&rfc_secret(), &code, now, last.map(TotpStep::new));
            }
        }

        #[test]
        fn any_recovery_code_is_hashed_without_a_panic(code in "\\PC{0,64}") {
            let _ = Rfc6238::new("Users").recovery_code_hash(&code);
        }
    }
}
