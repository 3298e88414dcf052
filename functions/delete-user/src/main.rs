//! `DELETE /users/{id}`: soft-deletes a user and frees the email address.
use application::users::DeleteUser;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = DeleteUser::new(aws.user_repository()?);
    http_api::serve(|request| routes::delete_user(&use_case, request)).await
}
