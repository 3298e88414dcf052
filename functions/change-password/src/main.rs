//! `PUT /users/{id}/password`: the user changes its own password; every other session ends.
use application::credentials::{ChangePassword, Sessions};
use http_api::routes;
use infrastructure::{Argon2Hasher, Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ChangePassword::new(
        aws.user_repository()?,
        aws.user_repository()?,
        aws.credential_repository()?,
        Argon2Hasher::default(),
        SystemClock,
        Sessions::new(
            aws.token_issuer().await?,
            aws.session_repository()?,
            OsResetTokens,
        ),
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::credentials::password::change_password(&use_case, request)
    })
    .await
}
