//! What the bench's binaries share: the floors, bare SDK calls, and a bare Lambda around them;
//! and what the end-to-end tests use too: what starts a function as Lambda does (its process
//! and a Runtime API), and a passkey authenticator.

pub mod authenticator;
pub mod floors;
mod http1;
pub mod process;
pub mod runtime_api;

use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Error, Request, Response, service_fn};
use std::convert::Infallible;
use std::future::Future;

/// Runs a Lambda that awaits `call` for each request and answers `{}`: the runtime and the API
/// Gateway v2 handling every function has, around nothing of the service's own code. A failed
/// call answers 500, which the bench reports.
pub async fn run_bare_lambda<F, Fut>(call: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut + Sync,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let call = &call;
    lambda_http::run(service_fn(move |request: Request| async move {
        let status = match call(request).await {
            Ok(()) => StatusCode::OK,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut response = Response::new(Body::from("{}"));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        Ok::<_, Infallible>(response)
    }))
    .await
}
