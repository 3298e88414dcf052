//! `POST /token/refresh`: a refresh token for a new access token and the next refresh token.
use application::credentials::{RefreshSession, Sessions};
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let sessions = Sessions::new(
        aws.token_issuer().await?,
        aws.session_repository()?,
        OsResetTokens,
    );
    let use_case = RefreshSession::new(aws.user_repository()?, SystemClock, sessions);
    http_api::serve(NoTokens, |request| {
        routes::credentials::session::refresh_token(&use_case, request)
    })
    .await
}
