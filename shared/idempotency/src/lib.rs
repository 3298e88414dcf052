//! Idempotency records: what the HTTP edge keeps so that a retried request gets the first
//! answer again. No use case needs them, so they live beside the application rather than in
//! it: the http crate uses this port and the infrastructure crate implements it, and neither
//! depends on the other.

use application::ports::RepositoryError;
use domain::Timestamp;
use std::future::Future;

/// A response kept for replay under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What a request finds when it claims its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// The key is this request's: run it, then `complete` or `release`.
    Acquired,
    /// The same request ran to the end before: answer what it answered.
    Replay(StoredResponse),
    /// The same request is running now.
    InProgress,
    /// The key was used with another request.
    Mismatch,
}

pub trait IdempotencyStore: Send + Sync + 'static {
    /// Takes `key` for a request whose content hashes to `request_hash`, atomically. A record
    /// that expired, or an in-progress one whose holder has died (older than its lock), MUST
    /// count as absent; the code checks expiry itself, since TTL deletes late.
    fn claim(
        &self,
        key: &str,
        request_hash: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<IdempotencyClaim, RepositoryError>> + Send;

    /// Stores the response of the request holding `key`, for replay until the record expires.
    fn complete(
        &self,
        key: &str,
        request_hash: &str,
        response: &StoredResponse,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;

    /// Gives `key` up after a failure, so that a retry can run.
    fn release(
        &self,
        key: &str,
        request_hash: &str,
    ) -> impl Future<Output = Result<(), RepositoryError>> + Send;
}

// The in-memory store, for the tests of the crates that use the port; an ordinary module for
// the reason given on `application::fakes`.
mod memory;
pub use memory::InMemoryIdempotencyStore;
