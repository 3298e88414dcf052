use std::future::Future;

/// What a use case is asked to do. The command names what it answers and how it fails, so
/// one command type is one operation.
pub trait Command: Send {
    type Output;
    type Error;
}

/// Declares what a command answers and how it fails: `command!(NewUser => User, CreateUserError);`
macro_rules! command {
    ($command:ty => $output:ty, $error:ty) => {
        impl $crate::Command for $command {
            type Output = $output;
            type Error = $error;
        }
    };
}
pub(crate) use command;

/// Runs one kind of command. Every use case implements it, so callers (the HTTP edge, its
/// tests) need only this bound, never the use case's ports.
pub trait UseCase<C: Command>: Send + Sync {
    fn execute(&self, command: C) -> impl Future<Output = Result<C::Output, C::Error>> + Send;
}
