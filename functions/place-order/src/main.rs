//! `POST /users/{id}/orders`: places an order for an active user, its confirmation recorded with it.
use application::orders::PlaceOrder;
use http_api::idempotency::Idempotency;
use http_api::routes;
use infrastructure::{Aws, SystemClock, UuidV7Ids};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = PlaceOrder::new(
        aws.user_repository()?,
        aws.order_repository()?,
        SystemClock,
        UuidV7Ids,
    );
    let idempotency = Idempotency::new(aws.idempotency_store()?, SystemClock);
    http_api::serve(aws.token_verifier()?, |request| {
        idempotency.run(request, |request| {
            routes::orders::place::place_order(&use_case, request)
        })
    })
    .await
}
