//! `GET /users/{id}/orders`: lists a user's orders, newest first, a page at a time.
use application::orders::ListUserOrders;
use http_api::routes;
use infrastructure::Aws;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let use_case = ListUserOrders::new(aws.user_repository()?, aws.order_repository()?);
    http_api::serve(aws.token_verifier()?, |request| {
        routes::orders::list::list_user_orders(&use_case, request)
    })
    .await
}
