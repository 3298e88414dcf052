//! `POST /users/{id}/logins`: records that an active user logged in.
use application::users::RecordLogin;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = RecordLogin::new(aws.user_repository()?, SystemClock);
    http_api::serve(|request| routes::record_login(&use_case, request)).await
}
