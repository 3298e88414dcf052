//! `DELETE /users/{id}/mfa`: turns two-step sign-in off, by the user (step-up and a code) or
//! by an administrator (an account-recovery reset); the user's sessions end.
use application::credentials::RemoveSecondFactor;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let step_up = aws.step_up()?;
    let use_case = RemoveSecondFactor::new(
        aws.user_repository()?,
        aws.user_repository()?,
        aws.one_time_passwords(),
        aws.secret_sealer()?,
        SystemClock,
        step_up,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::mfa::remove_second_factor(&use_case, request)
    })
    .await
}
