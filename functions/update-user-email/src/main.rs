//! `PUT /users/{id}/email`: an administrator's change applies at once; the user's own (after
//! step-up) sends a token to the new address and tells the current one. Either way the old
//! address is told when the change is made.
use application::users::UpdateUserEmail;
use http_api::routes;
use infrastructure::{Aws, OsResetTokens, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let step_up = aws.step_up()?;
    let use_case = UpdateUserEmail::new(
        aws.user_repository()?,
        OsResetTokens,
        aws.secret_sealer()?,
        SystemClock,
        step_up,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::email::update_user_email(&use_case, request)
    })
    .await
}
