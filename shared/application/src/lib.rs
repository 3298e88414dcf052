//! Ports (what the use cases need from the outside world) and one use case per operation.
//!
//! Use cases are generic over their ports, so tests run them against in-memory fakes and the
//! functions run them against DynamoDB and SES. Each implements `UseCase` for its command, so
//! the HTTP edge depends on "something that runs this command", not on a list of ports.

pub mod audit;
pub mod credentials;
pub mod delivery;
pub mod identity;
pub mod messages;
pub mod orders;
pub mod ports;
pub mod publishing;
mod standing;
mod use_case;
pub mod users;

// The in-memory fakes of every port, for the tests of the crates that use the use cases. An
// ordinary module rather than a test-only feature: a feature that only tests turn on gives
// the functions a second build of this crate and everything above it (see the README, "Builds").
pub mod fakes;

pub use identity::{AdminMfa, Caller, Denied, Policy};
pub(crate) use use_case::command;
pub use use_case::{Command, UseCase};

/// The span of work done now for an earlier request (`trace_header` as it was recorded with
/// the work: an email, an event), in that request's trace: the X-Ray layer (target `xray`)
/// records it there as a segment named `name`. No span when nothing was traced.
pub(crate) fn joined_span(name: &str, trace_header: Option<&str>) -> tracing::Span {
    match trace_header {
        Some(header) => tracing::info_span!(target: "xray", "joined", name, trace_header = header),
        None => tracing::Span::none(),
    }
}

/// The messages of an error and its causes, outermost first, for one log field.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}
