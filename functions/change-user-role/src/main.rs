//! `PUT /users/{id}/role`: an administrator gives a user a role.
use application::users::ChangeRole;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ChangeRole::new(aws.user_repository()?, SystemClock);
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::role::change_user_role(&use_case, request)
    })
    .await
}
