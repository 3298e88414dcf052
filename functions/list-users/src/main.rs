//! `GET /users`: lists users by status, newest first, a page at a time.
use application::users::ListUsers;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ListUsers::new(aws.user_repository()?);
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::list::list_users(&use_case, request)
    })
    .await
}
