use crate::audit::{self, Outcome};
use crate::identity::{Caller, Denied, Policy};
use domain::UserId;
use std::future::Future;
use tracing::Instrument;

/// `CreateUser` of `application::users::create::CreateUser<infrastructure::...>`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let path = full.split('<').next().unwrap_or(full);
    path.rsplit("::").next().unwrap_or(path)
}

/// What a use case is asked to do. The command names what it answers, how it fails (a refused
/// caller included), and which user it is about, so one command type is one operation.
pub trait Command: Send {
    type Output;
    type Error: From<Denied>;

    /// The user the command acts on, for "self or admin".
    fn subject(&self) -> Option<UserId> {
        None
    }
}

/// Declares what a command answers and how it fails, and the field naming the user it is
/// about: `command!(UserLookup => User, GetUserError; subject = id);`
macro_rules! command {
    ($command:ty => $output:ty, $error:ty) => {
        impl $crate::Command for $command {
            type Output = $output;
            type Error = $error;
        }
    };
    ($command:ty => $output:ty, $error:ty; subject = $field:ident) => {
        impl $crate::Command for $command {
            type Output = $output;
            type Error = $error;

            fn subject(&self) -> Option<domain::UserId> {
                Some(self.$field)
            }
        }
    };
}
pub(crate) use command;

/// Runs one kind of command for a caller. Every use case implements it, so callers (the HTTP
/// edge, its tests) need only this bound, never the use case's ports.
pub trait UseCase<C: Command>: Send + Sync {
    /// Who may run it: the use case's rule, in one line.
    fn policy(&self) -> Policy;

    /// The operation itself, for a caller the policy let in.
    fn run(
        &self,
        caller: &Caller,
        command: C,
    ) -> impl Future<Output = Result<C::Output, C::Error>> + Send;

    /// The audit event this operation is, for this caller, when it is one that
    /// `execute` records (refusals included). Operations whose events need what only `run`
    /// learns (whose login failed, a reused token) record them there instead.
    fn audit_event(&self, _caller: &Caller) -> Option<&'static str> {
        None
    }

    /// Checks the caller against the policy, then runs. Nothing runs for a refused caller.
    fn execute(
        &self,
        caller: &Caller,
        command: C,
    ) -> impl Future<Output = Result<C::Output, C::Error>> + Send
    where
        Self: Sized,
    {
        async move {
            let subject = command.subject();
            let event = self.audit_event(caller);
            let audit = |outcome| {
                if let Some(event) = event {
                    audit::record(event, outcome, caller.user_id(), subject);
                }
            };
            if let Err(denied) = self.policy().check(caller, subject) {
                audit(Outcome::Denied);
                return Err(denied.into());
            }
            let result = self
                .run(caller, command)
                .instrument(tracing::info_span!(
                    // The X-Ray layer's target: the use case is a subsegment of the trace.
                    target: "xray",
                    "use case",
                    name = short_type_name::<Self>()
                ))
                .await;
            audit(Outcome::of(&result));
            result
        }
    }
}
