//! `POST /users/{id}/passkeys/registration`: after step-up, creation options for a new
//! passkey; the ceremony's state waits 5 minutes for the credential.
use application::credentials::StartPasskeyRegistration;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let step_up = aws.step_up()?;
    let use_case = StartPasskeyRegistration::new(
        aws.user_repository()?,
        aws.user_repository()?,
        aws.passkey_relying_party()?,
        SystemClock,
        step_up,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::passkeys::start_passkey_registration(&use_case, request)
    })
    .await
}
