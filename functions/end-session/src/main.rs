//! `DELETE /users/{id}/sessions/{session_id}`: ends one session of the user.
use application::credentials::UserSessions;
use http_api::routes;
use infrastructure::{Aws, SystemClock};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = UserSessions::new(
        aws.user_repository()?,
        aws.session_repository()?,
        SystemClock,
    );
    http_api::serve(aws.token_verifier()?, |request| {
        routes::users::sessions::end_session(&use_case, request)
    })
    .await
}
