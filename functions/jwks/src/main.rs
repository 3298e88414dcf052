//! `GET /.well-known/jwks.json`: the public keys that verify access tokens.
use http_api::auth::NoTokens;
use http_api::routes;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let key_set = infrastructure::config::public_key_set()?;
    http_api::serve(NoTokens, |_| routes::jwks::jwks(&key_set)).await
}
