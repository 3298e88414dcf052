//! `GET /users/{id}`: reads an active user.
use application::users::GetUser;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = GetUser::new(aws.user_repository()?);
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::get::get_user(&use_case, request)
    })
    .await
}
