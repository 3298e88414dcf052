//! Start-up shared by every function: logging, and the Lambda run loop.

use crate::routes::HandlerResult;
use lambda_http::{Body, Error, Request, Response, service_fn};
use std::convert::Infallible;
use std::future::Future;
use tracing_subscriber::EnvFilter;

/// JSON log lines for CloudWatch. The level comes from `RUST_LOG` (e.g. `debug`,
/// `http_api=debug`), else Lambda's `AWS_LAMBDA_LOG_LEVEL`, else `info`.
pub fn init_tracing() {
    let default_level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .map(|level| level.to_lowercase())
        .unwrap_or_else(|_| "info".to_owned());
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_target(false)
        .with_current_span(false)
        .without_time()
        .init();
}

/// Runs the Lambda loop with `handler`; problems become problem-JSON responses.
pub async fn serve<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = HandlerResult> + Send,
{
    let handler = &handler;
    lambda_http::run(service_fn(move |request: Request| async move {
        let response: Response<Body> = handler(request)
            .await
            .unwrap_or_else(|problem| problem.into_response());
        Ok::<_, Infallible>(response)
    }))
    .await
}
