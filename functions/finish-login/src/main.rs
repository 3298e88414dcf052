//! `POST /login/mfa`: the second step of a two-step login; a code of the user's second factor
//! and the `mfa_token` of a right password start a session.
use application::credentials::{FinishLogin, SecondFactor, Sessions};
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let factor = SecondFactor::new(
        aws.user_repository()?,
        aws.one_time_passwords(),
        aws.secret_sealer()?,
    );
    let use_case = FinishLogin::new(
        aws.user_repository()?,
        SystemClock,
        Sessions::new(
            aws.token_issuer().await?,
            aws.session_repository()?,
            OsResetTokens,
        ),
        factor,
    );
    http_api::serve(NoTokens, |request| {
        routes::credentials::login::finish_login(&use_case, request)
    })
    .await
}
