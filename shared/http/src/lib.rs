//! The HTTP edge of every function: requests become commands of domain types, use-case
//! results become responses, and every error becomes RFC 9457 problem JSON in one place
//! (`errors`). It knows the use cases, never the AWS SDK.
//!
//! Each route's contract lives in one module of `routes`: its request type with the parser,
//! its handler and its OpenAPI annotation. `openapi` assembles the document from them.

pub mod auth;
pub mod docs;
mod errors;
pub mod idempotency;
mod metrics;
pub mod openapi;
pub mod problem;
pub mod request;
mod request_record;
pub mod response;
pub mod routes;
pub mod runtime;
#[cfg(test)]
mod testing;

pub use problem::{FieldError, Problem};
pub use runtime::{init_tracing, serve};

/// What a handler answers: a response for every business outcome, a problem for the rest.
pub type HandlerResult = Result<lambda_http::Response<lambda_http::Body>, Problem>;
