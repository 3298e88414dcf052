//! `POST /login`: checks a password, records the login and starts a session.
use application::credentials::{Login, Sessions};
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Argon2Hasher, Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = Login::new(
        aws.user_repository()?,
        Argon2Hasher::default(),
        SystemClock,
        Sessions::new(
            aws.token_issuer().await?,
            aws.session_repository()?,
            OsResetTokens,
        ),
    );
    http_api::serve(NoTokens, |request| {
        routes::credentials::login::login(&use_case, request)
    })
    .await
}
