//! `POST /password-reset/confirm`: redeems a reset token, once, for a new Argon2id-hashed
//! password, and tells the owner.
use application::credentials::ConfirmPasswordReset;
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Argon2Hasher, Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ConfirmPasswordReset::new(
        aws.user_repository()?,
        aws.credential_repository()?,
        Argon2Hasher::default(),
        OsResetTokens,
        SystemClock,
    );
    http_api::serve(NoTokens, |request| {
        routes::credentials::reset::confirm_password_reset(&use_case, request)
    })
    .await
}
