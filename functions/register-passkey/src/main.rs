//! `POST /users/{id}/passkeys`: verifies the browser's credential against its registration
//! and stores the passkey.
use application::credentials::RegisterPasskey;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = RegisterPasskey::new(
        aws.user_repository()?,
        aws.user_repository()?,
        aws.passkey_relying_party()?,
        SystemClock,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::passkeys::register_passkey(&use_case, request)
    })
    .await
}
