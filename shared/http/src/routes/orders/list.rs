//! `GET /users/{id}/orders?limit=&cursor=`: lists a user's orders, newest first.

use super::super::page_response;
use crate::openapi::{BadRequest, NotFound, ValidationFailed};
use crate::request::{PageQuery, UserPath};
use crate::response::{OrderBody, PageBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::orders::UserOrdersQuery;
use lambda_http::Request;

#[utoipa::path(get, path = "/users/{id}/orders", tag = "Orders",
    params(UserPath, PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the user's orders, newest first.", body = PageBody<OrderBody>),
        (status = 400, response = BadRequest), (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    ))]
pub async fn list_user_orders(
    use_case: &impl UseCase<UserOrdersQuery>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let mut errors = Vec::new();
    let (Some(PageQuery { limit, cursor }), true) =
        (PageQuery::read(&request, &mut errors), errors.is_empty())
    else {
        return Err(Problem::validation(errors));
    };
    let query = UserOrdersQuery {
        user_id: id,
        limit,
        cursor,
    };
    let page = use_case.execute(&caller, query).await?;
    Ok(page_response(&page, OrderBody::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Answer, TestRequest, assert_authentication_rows, signed_in};
    use application::fakes::{
        InMemoryOrders, InMemoryUsers, StoreHealth, order_for, user_with_email,
    };
    use application::orders::ListUserOrders;
    use application::ports::OrderRepository;
    use application::ports::Outgoing;
    use domain::UserId;

    async fn list(users: &InMemoryUsers, orders: &InMemoryOrders, request: TestRequest) -> Answer {
        let use_case = ListUserOrders::new(users.clone(), orders.clone());
        Answer::of(list_user_orders(&use_case, request.build_in(users)).await)
    }

    fn get(id: impl ToString) -> TestRequest {
        TestRequest::new("GET", "/users/x/orders").path("id", id)
    }

    #[tokio::test]
    async fn pages_of_a_users_orders_follow_their_cursor() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        for _ in 0..3 {
            orders
                .insert(&order_for(ada.id()), &Outgoing::nothing())
                .await
                .unwrap();
        }
        let first = list(&users, &orders, get(ada.id()).query("limit", "2")).await;
        assert_eq!(
            (first.status, first.body["items"].as_array().unwrap().len()),
            (200, 2)
        );
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let last = list(
            &users,
            &orders,
            get(ada.id()).query("limit", "2").query("cursor", cursor),
        )
        .await;
        assert_eq!(last.body["items"].as_array().unwrap().len(), 1);
        assert!(last.body["next_cursor"].is_null());
    }

    #[tokio::test]
    async fn a_forged_cursor_is_400_a_bad_limit_422_and_an_unknown_user_404() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        list(&users, &orders, get(ada.id()).query("cursor", "forged"))
            .await
            .problem(400);
        let answer = list(&users, &orders, get(ada.id()).query("limit", "101")).await;
        assert_eq!(answer.invalid_fields(), ["limit"]);
        list(&users, &orders, get(UserId::generate()))
            .await
            .problem(404);
        list(&users, &orders, get("not-an-id")).await.problem(404);
    }

    #[tokio::test]
    async fn store_failures_are_503_and_500() {
        let orders = InMemoryOrders::default();
        let id = UserId::generate();
        list(
            &InMemoryUsers::with_health(StoreHealth::Unavailable),
            &orders,
            get(id),
        )
        .await
        .unavailable();
        list(
            &InMemoryUsers::with_health(StoreHealth::Failing),
            &orders,
            get(id),
        )
        .await
        .internal();
    }

    #[tokio::test]
    async fn only_the_owner_or_an_admin_lists_its_orders() {
        let (users, orders) = (InMemoryUsers::default(), InMemoryOrders::default());
        let ada = users.add(user_with_email("ada@example.com"));
        let use_case = ListUserOrders::new(users.clone(), orders);
        let handle = |request| list_user_orders(&use_case, request);
        assert_authentication_rows(|| get(ada.id()), handle, &ada, false).await;
        let own =
            list_user_orders(&use_case, get(ada.id()).by(signed_in(&users, &ada)).build()).await;
        assert_eq!(Answer::of(own).status, 200);
    }
}
