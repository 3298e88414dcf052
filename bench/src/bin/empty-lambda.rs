//! The floor of a Lambda function: the same runtime and API Gateway v2 handling as the real
//! functions, and a handler that does nothing.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    bench::run_bare_lambda(|_| async { Ok(()) }).await
}
