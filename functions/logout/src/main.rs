//! `POST /logout`: ends a refresh token's family.
use application::credentials::Logout;
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Aws, OsResetTokens};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = Logout::new(aws.session_repository()?, OsResetTokens);
    http_api::serve(NoTokens, |request| {
        routes::credentials::session::logout(&use_case, request)
    })
    .await
}
