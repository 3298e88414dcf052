//! Sealing against moto's KMS: a secret opens under its own context and key only, and an
//! unreachable key service is "unavailable" (a 503 upstream), not a refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

mod support;

use application::ports::{SealError, SecretContext, SecretPurpose, SecretSealer};
use domain::UserId;
use infrastructure::KmsSealer;
use support::{fresh_key, kms_at, moto_url};

fn context(purpose: SecretPurpose) -> SecretContext {
    SecretContext {
        user_id: UserId::generate(),
        purpose,
    }
}

#[tokio::test]
async fn a_sealed_secret_opens_under_its_own_context_and_key_only() {
    let kms = kms_at(&moto_url()).await;
    let sealer = KmsSealer::new(kms.clone(), fresh_key(&kms).await);
    let reset = context(SecretPurpose::PasswordReset);
    let sealed = sealer.seal(b"the-token", reset).await.unwrap();
    assert!(
        !sealed
            .as_bytes()
            .windows(b"the-token".len())
            .any(|window| window == b"the-token"),
        "no plaintext in the ciphertext"
    );
    assert_eq!(sealer.open(&sealed, reset).await.unwrap(), b"the-token");

    let someone_else = SecretContext {
        user_id: UserId::generate(),
        ..reset
    };
    let another_purpose = SecretContext {
        purpose: SecretPurpose::EmailChange,
        ..reset
    };
    for wrong in [someone_else, another_purpose] {
        assert!(matches!(
            sealer.open(&sealed, wrong).await,
            Err(SealError::Refused(_))
        ));
    }
    let other_key = KmsSealer::new(kms.clone(), fresh_key(&kms).await);
    assert!(matches!(
        other_key.open(&sealed, reset).await,
        Err(SealError::Refused(_))
    ));
}

#[tokio::test]
async fn an_unreachable_key_service_is_unavailable() {
    // A port nothing listens on.
    let kms = kms_at("http://127.0.0.1:9").await;
    let sealer = KmsSealer::new(kms, "alias/anything");
    let outcome = sealer
        .seal(b"the-token", context(SecretPurpose::PasswordReset))
        .await;
    assert!(
        matches!(outcome, Err(SealError::Unavailable(_))),
        "{outcome:?}"
    );
}
