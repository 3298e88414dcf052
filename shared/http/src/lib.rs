//! The HTTP edge of every function: requests become commands of domain types, use-case
//! results become responses, and every error becomes RFC 9457 problem JSON in one place
//! (`errors`). It knows the use cases, never the AWS SDK.

pub mod docs;
mod errors;
pub mod idempotency;
mod metrics;
pub mod openapi;
pub mod problem;
pub mod request;
pub mod response;
pub mod routes;
pub mod runtime;

pub use problem::{FieldError, Problem};
pub use runtime::{init_tracing, serve};
