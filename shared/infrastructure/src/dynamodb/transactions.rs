use super::errors::repository_error;
use application::ports::RepositoryError;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";
/// Another transaction was writing one of the same items at that moment.
const TRANSACTION_CONFLICT: &str = "TransactionConflict";

pub(crate) enum TransactionError {
    /// The condition of the write at this position in the transaction did not hold.
    ConditionFailed {
        index: usize,
    },
    /// A concurrent transaction held one of the items; nothing was written, and the outcome
    /// of a retry is open.
    Conflict,
    Repository(RepositoryError),
}

/// Writes all or nothing, and says which condition refused when one did.
pub(crate) async fn transact(
    client: &Client,
    writes: Vec<TransactWriteItem>,
) -> Result<(), TransactionError> {
    let error = match client
        .transact_write_items()
        .set_transact_items(Some(writes))
        .send()
        .await
    {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    let reasons = match &error {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                cancelled.cancellation_reasons()
            }
            _ => &[],
        },
        _ => &[],
    };
    let code_at = |code: &str| {
        reasons
            .iter()
            .position(|reason| reason.code() == Some(code))
    };
    Err(if let Some(index) = code_at(CONDITIONAL_CHECK_FAILED) {
        TransactionError::ConditionFailed { index }
    } else if code_at(TRANSACTION_CONFLICT).is_some() {
        TransactionError::Conflict
    } else {
        TransactionError::Repository(repository_error(error))
    })
}
