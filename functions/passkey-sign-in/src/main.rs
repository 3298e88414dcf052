//! `POST /login/passkey`: signs in with a passkey's assertion, with `amr` `["hwk", "mfa"]`.
use application::credentials::{PasskeySignIn, Sessions};
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = PasskeySignIn::new(
        aws.user_repository()?,
        aws.user_repository()?,
        aws.passkey_relying_party()?,
        SystemClock,
        Sessions::new(
            aws.token_issuer().await?,
            aws.session_repository()?,
            OsResetTokens,
        ),
    );
    http_api::serve(NoTokens, |request| {
        routes::credentials::passkey::passkey_sign_in(&use_case, request)
    })
    .await
}
