//! `POST /login`: checks a password and records the login.
use application::credentials::Login;
use http_api::routes;
use infrastructure::{Argon2Hasher, Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = Login::new(
        aws.user_repository()?,
        aws.credential_repository()?,
        Argon2Hasher::default(),
        SystemClock,
    );
    http_api::serve(|request| routes::credentials::login::login(&use_case, request)).await
}
