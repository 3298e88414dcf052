//! What of an AWS SDK failure may be logged. Service messages can quote request data (SES
//! names the addresses it refused), so only the kind of failure, the error code and the AWS
//! request id are kept: enough to find the call in AWS's own logs, nothing personal.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::RequestId;
use std::fmt::Debug;

#[derive(Debug, thiserror::Error)]
#[error("{summary}")]
pub struct AwsFailure {
    summary: String,
    /// Throttled, timed out or unreachable: worth retrying later.
    pub transient: bool,
}

/// Error codes that mean "try again later" rather than "this request is wrong".
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
];

impl AwsFailure {
    pub fn from_sdk<E, R>(operation: &str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata,
        R: Debug,
    {
        match error {
            SdkError::ServiceError(service) => {
                let code = service.err().code().unwrap_or("unknown");
                let request_id = service
                    .err()
                    .meta()
                    .extra("aws_request_id")
                    .or_else(|| service.err().meta().request_id());
                Self {
                    summary: format!(
                        "{operation}: service error {code} (request id {})",
                        request_id.unwrap_or("-")
                    ),
                    transient: TRANSIENT_CODES.contains(&code),
                }
            }
            SdkError::TimeoutError(_) => Self {
                summary: format!("{operation}: timed out"),
                transient: true,
            },
            SdkError::DispatchFailure(failure) => Self {
                summary: format!(
                    "{operation}: could not reach the service ({})",
                    if failure.is_timeout() {
                        "timeout"
                    } else if failure.is_io() {
                        "connection failed"
                    } else {
                        "dispatch failed"
                    }
                ),
                transient: true,
            },
            SdkError::ResponseError(_) => Self {
                summary: format!("{operation}: unreadable response"),
                transient: true,
            },
            SdkError::ConstructionFailure(_) => Self {
                summary: format!("{operation}: the request could not be built"),
                transient: false,
            },
            _ => Self {
                summary: format!("{operation}: failed"),
                transient: false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_sesv2::operation::send_email::SendEmailError;

    fn service_error(code: &str, message: &str) -> SdkError<SendEmailError, ()> {
        let meta = ErrorMetadata::builder().code(code).message(message).build();
        SdkError::service_error(SendEmailError::generic(meta), ())
    }

    #[test]
    fn a_service_message_never_reaches_the_summary() {
        let error = service_error(
            "MessageRejected",
            "Email address is not verified: ada@example.com, Ada Lovelace",
        );
        let failure = AwsFailure::from_sdk("SES SendEmail", &error);
        let text = failure.to_string();
        assert!(text.contains("MessageRejected"), "{text}");
        assert!(
            !text.contains("ada@example.com") && !text.contains("Lovelace"),
            "{text}"
        );
        assert!(!failure.transient);
    }

    #[test]
    fn throttling_is_transient() {
        let failure = AwsFailure::from_sdk(
            "DynamoDB",
            &service_error("ThrottlingException", "slow down"),
        );
        assert!(failure.transient);
    }
}
