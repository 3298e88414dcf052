//! `GET /users/{id}/passkeys`: the user's passkeys.
use application::credentials::ListPasskeys;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ListPasskeys::new(aws.user_repository()?, aws.user_repository()?);
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::passkeys::list_passkeys(&use_case, request)
    })
    .await
}
