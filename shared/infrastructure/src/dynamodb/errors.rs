use crate::aws_errors::AwsFailure;
use application::ports::RepositoryError;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use std::error::Error;
use std::fmt::Debug;

/// Sorts an SDK failure into unavailable (throttled, unreachable, timed out: a 503) or failed,
/// keeping only what may be logged.
pub(crate) fn repository_error<E, R>(error: SdkError<E, R>) -> RepositoryError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    let failure = AwsFailure::from_sdk("DynamoDB", &error);
    if failure.transient {
        RepositoryError::Unavailable(failure.into())
    } else {
        RepositoryError::Failed(failure.into())
    }
}

/// An item that does not read back as the entity it claims to be.
pub(crate) fn corrupt_item(what: impl Into<String>) -> RepositoryError {
    RepositoryError::Failed(what.into().into())
}

/// A request the SDK's builders refused to build: our mistake, never the client's.
pub(crate) fn build_failed(error: impl Error + Send + Sync + 'static) -> RepositoryError {
    RepositoryError::Failed(error.into())
}
