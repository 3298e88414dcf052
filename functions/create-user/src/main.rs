//! `POST /users`: registers a user, its welcome email recorded in the outbox with it.
use application::users::CreateUser;
use http_api::auth::NoTokens;
use http_api::idempotency::Idempotency;
use http_api::routes;
use infrastructure::{Aws, SystemClock, UuidV7Ids};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = CreateUser::new(aws.user_repository()?, SystemClock, UuidV7Ids);
    let idempotency = Idempotency::new(aws.idempotency_store()?, SystemClock);
    http_api::serve(NoTokens, |request| {
        idempotency.run(request, |request| {
            routes::users::create::create_user(&use_case, request)
        })
    })
    .await
}
