//! `POST /users/{id}/mfa/totp/confirm`: a code of the enrolment's secret turns two-step
//! sign-in on and answers the recovery codes, this once.
use application::credentials::ConfirmTotpEnrolment;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ConfirmTotpEnrolment::new(
        aws.user_repository()?,
        aws.user_repository()?,
        aws.one_time_passwords(),
        aws.secret_sealer()?,
        SystemClock,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::mfa::confirm_totp_enrolment(&use_case, request)
    })
    .await
}
