//! `PUT /users/{id}/email`: changes a user's email address, honoring If-Match.
use application::users::UpdateUserEmail;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = UpdateUserEmail::new(aws.user_repository()?);
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::email::update_user_email(&use_case, request)
    })
    .await
}
