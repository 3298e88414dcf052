//! `POST /users/{id}/mfa/recovery-codes`: after step-up and with a code, ten new recovery
//! codes, shown once; the earlier ones are void.
use application::credentials::ReplaceRecoveryCodes;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let step_up = aws.step_up()?;
    let use_case = ReplaceRecoveryCodes::new(
        aws.user_repository()?,
        aws.user_repository()?,
        aws.one_time_passwords(),
        aws.secret_sealer()?,
        SystemClock,
        step_up,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::mfa::replace_recovery_codes(&use_case, request)
    })
    .await
}
