//! `GET /users/{id}/orders/{order_id}`: reads one of a user's orders.
use application::orders::GetOrder;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = GetOrder::new(aws.user_repository()?, aws.order_repository()?);
    http_api::serve(aws.token_verifier()?, |request| {
        routes::orders::get::get_order(&use_case, request)
    })
    .await
}
