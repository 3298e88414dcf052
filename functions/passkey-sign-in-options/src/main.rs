//! `POST /login/passkey/options`: request options for a passkey sign-in; the ceremony's
//! state waits 5 minutes for the assertion.
use application::credentials::StartPasskeySignIn;
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = StartPasskeySignIn::new(
        aws.user_repository()?,
        aws.passkey_relying_party()?,
        SystemClock,
    );
    http_api::serve(NoTokens, |request| {
        routes::credentials::passkey::passkey_sign_in_options(&use_case, request)
    })
    .await
}
