//! `POST /email-change/confirm`: redeems an email-change token, once, moving the user to the
//! proved address, and tells the old address.
use application::users::ConfirmEmailChange;
use http_api::auth::NoTokens;
use http_api::routes;
use infrastructure::{Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ConfirmEmailChange::new(aws.user_repository()?, OsResetTokens, SystemClock);
    http_api::serve(NoTokens, |request| {
        routes::users::email_confirm::confirm_email_change(&use_case, request)
    })
    .await
}
