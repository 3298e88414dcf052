//! `POST /users/{id}/suspend`: suspends a user.
use application::users::SuspendUser;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = SuspendUser::new(aws.user_repository()?);
    http_api::serve(|request| routes::suspend_user(&use_case, request)).await
}
