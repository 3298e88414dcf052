//! `DELETE /users/{id}/sessions`: signs the user out everywhere.
use application::users::{ChangeUser, Transition};
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ChangeUser::new(
        aws.user_repository()?,
        SystemClock,
        Transition::SignOutEverywhere,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::sessions::sign_out_everywhere(&use_case, request)
    })
    .await
}
