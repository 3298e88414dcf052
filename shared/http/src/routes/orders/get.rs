//! `GET /users/{id}/orders/{order_id}`: reads one of a user's orders.

use crate::openapi::NotFound;
use crate::request::{OrderIdPath, UserPath};
use crate::response::{self, OrderBody};
use crate::{HandlerResult, auth};
use application::UseCase;
use application::orders::OrderLookup;
use lambda_http::Request;
use lambda_http::http::StatusCode;

#[utoipa::path(get, path = "/users/{id}/orders/{order_id}", tag = "Orders",
    params(UserPath, OrderIdPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order.", body = OrderBody),
        (status = 404, response = NotFound),
    ))]
pub async fn get_order(use_case: &impl UseCase<OrderLookup>, request: Request) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let OrderIdPath { order_id } = OrderIdPath::read(&request)?;
    let command = OrderLookup {
        user_id: id,
        order_id,
    };
    let order = use_case.execute(&caller, command).await?;
    Ok(response::json(StatusCode::OK, &OrderBody::from(&order)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Answer, TestRequest, assert_authentication_rows};
    use application::fakes::{InMemoryOrders, InMemoryUsers, StoreHealth, user_with_email};
    use application::orders::GetOrder;
    use application::ports::OrderRepository;
    use application::ports::Outgoing;
    use domain::{OrderId, UserId};

    async fn get(
        users: &InMemoryUsers,
        orders: &InMemoryOrders,
        id: impl ToString,
        order_id: impl ToString,
    ) -> Answer {
        let request = TestRequest::new("GET", "/users/x/orders/y")
            .path("id", id)
            .path("order_id", order_id)
            .build_in(users);
        Answer::of(get_order(&GetOrder::new(users.clone(), orders.clone()), request).await)
    }

    #[tokio::test]
    async fn an_order_is_a_200_under_its_user_and_a_404_under_any_other() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        let grace = users.add(user_with_email("grace@example.com"));
        let order = application::fakes::order_for(ada.id());
        orders.insert(&order, &Outgoing::nothing()).await.unwrap();
        let answer = get(&users, &orders, ada.id(), order.id()).await;
        assert_eq!(
            (answer.status, answer.body["id"].as_str()),
            (200, Some(order.id().to_string().as_str()))
        );
        get(&users, &orders, grace.id(), order.id())
            .await
            .problem(404);
        get(&users, &orders, ada.id(), OrderId::generate())
            .await
            .problem(404);
        get(&users, &orders, ada.id(), "not-an-id")
            .await
            .problem(404);
        get(&users, &orders, "not-an-id", order.id())
            .await
            .problem(404);
    }

    #[tokio::test]
    async fn store_failures_are_503_and_500() {
        let orders = InMemoryOrders::default();
        let (id, order_id) = (UserId::generate(), OrderId::generate());
        get(
            &InMemoryUsers::with_health(StoreHealth::Unavailable),
            &orders,
            id,
            order_id,
        )
        .await
        .unavailable();
        get(
            &InMemoryUsers::with_health(StoreHealth::Failing),
            &orders,
            id,
            order_id,
        )
        .await
        .internal();
    }

    #[tokio::test]
    async fn only_the_owner_or_an_admin_reads_an_order() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        let order = application::fakes::order_for(ada.id());
        orders.insert(&order, &Outgoing::nothing()).await.unwrap();
        let use_case = GetOrder::new(users.clone(), orders);
        let request = || {
            TestRequest::new("GET", "/users/x/orders/y")
                .path("id", ada.id())
                .path("order_id", order.id())
        };
        let handle = |request| get_order(&use_case, request);
        assert_authentication_rows(request, handle, &ada, false).await;
    }
}
