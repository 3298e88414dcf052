//! `POST /users/{id}/activate`: activates a suspended user.
use application::users::ActivateUser;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ActivateUser::new(aws.user_repository()?);
    http_api::serve(|request| routes::activate_user(&use_case, request)).await
}
