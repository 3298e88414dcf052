//! `POST /password-reset`: records a single-use reset token and its email for an active user; always 202.
use application::credentials::RequestPasswordReset;
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = RequestPasswordReset::new(
        aws.user_repository()?,
        aws.credential_repository()?,
        OsResetTokens,
        aws.secret_sealer()?,
        SystemClock,
    );
    http_api::serve(NoTokens, |request| {
        routes::credentials::reset::request_password_reset(&use_case, request)
    })
    .await
}
