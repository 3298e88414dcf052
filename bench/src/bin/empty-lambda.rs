//! The floor of a Lambda function: the same runtime and API Gateway v2 handling as the real
//! functions, and a handler that does nothing.
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Error, Request, Response, service_fn};
use std::convert::Infallible;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_: Request| async {
        let mut response = Response::new(Body::from("{}"));
        response
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        Ok::<_, Infallible>(response)
    }))
    .await
}
