//! `POST /users/{id}/mfa/totp`: after step-up, starts a TOTP enrolment: a fresh secret for the
//! user's authenticator app, stored only sealed until a code confirms it.
use application::credentials::StartTotpEnrolment;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let step_up = aws.step_up()?;
    let use_case = StartTotpEnrolment::new(
        aws.user_repository()?,
        aws.user_repository()?,
        aws.one_time_passwords(),
        aws.secret_sealer()?,
        SystemClock,
        step_up,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::mfa::start_totp_enrolment(&use_case, request)
    })
    .await
}
