//! Sealing secrets with one KMS key: `Encrypt` and `Decrypt`, the user and the purpose as the
//! encryption context (KMS refuses to decrypt under any other, and CloudTrail logs it with
//! each call). The secrets are tokens of a few dozen bytes, far below `Encrypt`'s 4 KiB, so no
//! data key or envelope is needed. Locally, moto's KMS plays the service
//! (`AWS_ENDPOINT_URL_KMS`), with the same checks of the context.

use crate::aws_errors::AwsFailure;
use application::ports::{SealError, SealedSecret, SecretContext, SecretSealer};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;

#[derive(Debug, Clone)]
pub struct KmsSealer {
    client: Client,
    /// The key's ARN, id or alias. `Decrypt` names it too, so a ciphertext under any other
    /// key is refused rather than opened with whatever key it names.
    key_id: String,
}

impl KmsSealer {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }
}

fn failure<E, R>(operation: &str, error: &aws_sdk_kms::error::SdkError<E, R>) -> SealError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata,
    R: std::fmt::Debug,
{
    let failure = AwsFailure::from_sdk(operation, error);
    if failure.transient {
        SealError::Unavailable(failure.into())
    } else {
        SealError::Refused(failure.into())
    }
}

impl SecretSealer for KmsSealer {
    async fn seal(
        &self,
        plaintext: &[u8],
        context: SecretContext,
    ) -> Result<SealedSecret, SealError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context("user_id", context.user_id.to_string())
            .encryption_context("purpose", context.purpose.as_str())
            .send()
            .await
            .map_err(|error| failure("KMS Encrypt", &error))?;
        let ciphertext = output
            .ciphertext_blob
            .ok_or_else(|| SealError::Refused("KMS Encrypt returned no ciphertext".into()))?;
        Ok(SealedSecret::from_bytes(ciphertext.into_inner()))
    }

    async fn open(
        &self,
        sealed: &SealedSecret,
        context: SecretContext,
    ) -> Result<Vec<u8>, SealError> {
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(sealed.as_bytes()))
            .encryption_context("user_id", context.user_id.to_string())
            .encryption_context("purpose", context.purpose.as_str())
            .send()
            .await
            .map_err(|error| failure("KMS Decrypt", &error))?;
        let plaintext = output
            .plaintext
            .ok_or_else(|| SealError::Refused("KMS Decrypt returned no plaintext".into()))?;
        Ok(plaintext.into_inner())
    }
}
