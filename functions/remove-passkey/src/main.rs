//! `DELETE /users/{id}/passkeys/{passkey_id}`: the passkey signs in no more.
use application::credentials::RemovePasskey;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let step_up = aws.step_up()?;
    let use_case = RemovePasskey::new(
        aws.user_repository()?,
        aws.user_repository()?,
        SystemClock,
        step_up,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::passkeys::remove_passkey(&use_case, request)
    })
    .await
}
