use application::ports::RepositoryError;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use std::error::Error;
use std::fmt::Debug;

/// Error codes that mean "try again later" rather than "this request is wrong".
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
];

/// Sorts an SDK failure into unavailable (throttled, unreachable, timed out: a 503) or failed.
pub(crate) fn repository_error<E, R>(error: SdkError<E, R>) -> RepositoryError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let transient = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| TRANSIENT_CODES.contains(&code)),
        _ => false,
    };
    if transient {
        RepositoryError::Unavailable(error.into())
    } else {
        RepositoryError::Failed(error.into())
    }
}

/// An item that does not read back as the entity it claims to be.
pub(crate) fn corrupt_item(what: impl Into<String>) -> RepositoryError {
    RepositoryError::Failed(what.into().into())
}
