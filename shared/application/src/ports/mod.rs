//! The traits adapters implement, one module per concern. Each method's comment says what an
//! implementation MUST do; the use-case tests hold the in-memory fakes to the same contract.

mod credentials;
mod email;
mod email_changes;
mod events;
mod factors;
mod logins;
mod orders;
mod paging;
mod passkeys;
mod secrets;
mod sessions;
mod system;
mod users;

pub use credentials::*;
pub use email::*;
pub use email_changes::*;
pub use events::*;
pub use factors::*;
pub use logins::*;
pub use orders::*;
pub use paging::*;
pub use passkeys::*;
pub use secrets::*;
pub use sessions::*;
pub use system::*;
pub use users::*;

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure of the data store itself, never of a business rule.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// Throttled or unreachable after the client's own retries: worth retrying later.
    #[error("the data store is unavailable")]
    Unavailable(#[source] BoxError),
    #[error("the data store failed")]
    Failed(#[source] BoxError),
}
