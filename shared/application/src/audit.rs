//! The audit trail: one JSON log line per security-relevant event, for operators to query
//! (CloudWatch Logs Insights, metric filters). A line names the event, its outcome, who acted
//! and on whom (user ids only), and the request it came from. It never carries an email
//! address, a name, a token or a password: the fields below are all there is.

use domain::UserId;
use std::fmt;
use std::future::Future;

/// The log target of audit lines, enabled whatever level the rest of the log runs at.
pub const TARGET: &str = "audit";

/// Where the current request came from, as the edge saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// Lambda's request id, to join the audit line to the request's other lines.
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
}

tokio::task_local! {
    static ORIGIN: Origin;
}

/// Runs `work` (one request) with `origin` on every audit line it records.
pub async fn within<F: Future>(origin: Origin, work: F) -> F::Output {
    ORIGIN.scope(origin, work).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The operation was refused for what was asked (a wrong password, an unknown token, a
    /// taken address) or could not be done.
    Failure,
    /// The caller was not allowed to ask: no token, another user's resource, not an admin,
    /// or an address locked after too many failures.
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }

    pub fn of<T, E>(result: &Result<T, E>) -> Self {
        if result.is_ok() {
            Self::Success
        } else {
            Self::Failure
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes one audit line: `event` with its `outcome`, done by `actor` to `target` (either
/// unknown when absent, e.g. a failed login for an unknown address).
pub fn record(
    event: &'static str,
    outcome: Outcome,
    actor: Option<UserId>,
    target: Option<UserId>,
) {
    let origin = ORIGIN.try_with(Origin::clone).unwrap_or_default();
    tracing::info!(
        target: TARGET,
        event,
        outcome = outcome.as_str(),
        actor_id = actor.map(|id| id.to_string()),
        target_id = target.map(|id| id.to_string()),
        request_id = origin.request_id,
        source_ip = origin.source_ip,
        "audit"
    );
}
