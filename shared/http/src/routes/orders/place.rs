//! `POST /users/{id}/orders`: places an order.

use crate::idempotency::IdempotencyKeyHeader;
use crate::openapi::{Conflict, Forbidden, NotFound};
use crate::request::{JsonObject, UserPath, verbatim};
use crate::response::{self, OrderBody};
use crate::{HandlerResult, Problem, auth};
use application::UseCase;
use application::orders::PlacementRequest;
use domain::{Currency, LineRequest, Money, Order, Quantity, Sku};
use lambda_http::Request;
use utoipa::ToSchema;

/// `POST /users/{id}/orders`: all items in one currency.
#[derive(Debug, ToSchema)]
#[schema(example = json!({"items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": {"amount": "12.50", "currency": "EUR"}}]}))]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    #[schema(min_items = 1, max_items = 100)]
    items: Vec<OrderLineRequest>,
}

#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineRequest {
    #[schema(value_type = String, pattern = "^[A-Za-z0-9_-]{1,64}$", example = "BOOK-1")]
    sku: Sku,
    #[schema(value_type = u32, minimum = 1, maximum = 1000, example = 2)]
    quantity: Quantity,
    #[schema(value_type = MoneyRequest)]
    unit_price: Money,
}

/// Money as sent: the amount is a decimal string, never a number.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyRequest {
    /// At most as many decimals as the currency has minor units; never negative.
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$", example = "12.50")]
    amount: String,
    #[schema(value_type = String, pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: Currency,
}

impl PlaceOrderRequest {
    fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let items = body.array("items", 1..=Order::MAX_ITEMS, OrderLineRequest::read);
        let items = body.finish(items)?;
        Ok(Self { items })
    }
}

impl OrderLineRequest {
    fn read(item: &mut JsonObject) -> Option<Self> {
        let sku = item.string("sku", Sku::parse);
        let quantity = item.integer("quantity", Quantity::new);
        let unit_price = item.object("unit_price", MoneyRequest::read);
        Some(Self {
            sku: sku?,
            quantity: quantity?,
            unit_price: unit_price?,
        })
    }
}

impl MoneyRequest {
    /// The amount is read as a string and parsed exactly, in the currency's minor units.
    fn read(money: &mut JsonObject) -> Option<Money> {
        let amount = money.string("amount", verbatim);
        let currency = money.string("currency", Currency::parse);
        let sent = Self {
            amount: amount?,
            currency: currency?,
        };
        Money::parse(&sent.amount, sent.currency)
            .map_err(|error| money.fail("amount", error))
            .ok()
    }
}

impl From<OrderLineRequest> for LineRequest {
    fn from(line: OrderLineRequest) -> Self {
        Self {
            sku: line.sku,
            quantity: line.quantity,
            unit_price: line.unit_price,
        }
    }
}

#[utoipa::path(post, path = "/users/{id}/orders", tag = "Orders",
    params(UserPath, IdempotencyKeyHeader),
    request_body(content = PlaceOrderRequest, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Placed, with exact line totals and total; a confirmation email is on its way.", body = OrderBody,
            headers(("Location" = String, description = "`/users/{id}/orders/{order_id}`"))),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        ))]
pub async fn place_order(
    use_case: &impl UseCase<PlacementRequest>,
    request: Request,
) -> HandlerResult {
    let (caller, UserPath { id }) = auth::for_user(use_case.policy(), &request)?;
    let PlaceOrderRequest { items } = PlaceOrderRequest::read(&request)?;
    let command = PlacementRequest {
        user_id: id,
        lines: items.into_iter().map(LineRequest::from).collect(),
    };
    let order = use_case.execute(&caller, command).await?;
    Ok(response::created_order(&order))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        Answer, TestRequest, assert_authentication_rows, assert_body_rows, signed_in,
    };
    use application::fakes::{
        FixedClock, InMemoryOrders, InMemoryUsers, SequentialIds, StoreHealth, user_with_email,
    };
    use application::orders::PlaceOrder;
    use domain::{User, UserId};
    use serde_json::json;

    type Place = PlaceOrder<InMemoryUsers, InMemoryOrders, FixedClock, SequentialIds>;

    fn use_case(users: &InMemoryUsers) -> Place {
        PlaceOrder::new(
            users.clone(),
            InMemoryOrders::default(),
            FixedClock::default(),
            SequentialIds,
        )
    }

    fn post(id: impl ToString) -> TestRequest {
        TestRequest::new("POST", "/users/x/orders").path("id", id)
    }

    fn one_book() -> serde_json::Value {
        json!({"items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": {"amount": "12.50", "currency": "EUR"}}]})
    }

    async fn place(users: &InMemoryUsers, request: TestRequest) -> Answer {
        Answer::of(place_order(&use_case(users), request.build_in(users)).await)
    }

    fn with_ada() -> (InMemoryUsers, User) {
        let users = InMemoryUsers::default();
        let ada = users.add(user_with_email("ada@example.com"));
        (users, ada)
    }

    #[tokio::test]
    async fn an_order_is_a_201_with_exact_totals_and_its_location() {
        let (users, ada) = with_ada();
        let answer = place(&users, post(ada.id()).json(one_book())).await;
        assert_eq!(answer.status, 201);
        assert_eq!(
            answer.body["total"],
            json!({"amount": "25.00", "currency": "EUR"})
        );
        let location = format!(
            "/users/{}/orders/{}",
            ada.id(),
            answer.body["id"].as_str().unwrap()
        );
        assert_eq!(answer.header("location"), Some(location.as_str()));
    }

    #[tokio::test]
    async fn bad_bodies_are_400_413_and_422_naming_every_nested_field() {
        let (users, ada) = with_ada();
        let use_case = use_case(&users);
        let handle = |request| place_order(&use_case, request);
        assert_body_rows(|| post(ada.id()), handle, &["items"]).await;
        let lines = json!({"items": [
            {"sku": "", "quantity": 0, "unit_price": {"amount": 1.5, "currency": "JPY"}},
            {"sku": "A", "quantity": 1, "unit_price": {"amount": "1.5", "currency": "JPY"}, "note": 1},
        ]});
        let answer = place(&users, post(ada.id()).json(lines)).await;
        assert_eq!(
            answer.invalid_fields(),
            [
                "items[0].sku",
                "items[0].quantity",
                "items[0].unit_price.amount",
                "items[1].unit_price.amount",
                "items[1].note",
            ]
        );
        let mixed = json!({"items": [
            {"sku": "A", "quantity": 1, "unit_price": {"amount": "1.00", "currency": "EUR"}},
            {"sku": "B", "quantity": 1, "unit_price": {"amount": "1.00", "currency": "GBP"}},
        ]});
        assert_eq!(
            place(&users, post(ada.id()).json(mixed))
                .await
                .invalid_fields(),
            ["items"]
        );
    }

    #[tokio::test]
    async fn an_unknown_user_is_a_404_and_a_suspended_one_a_403() {
        let (users, _) = with_ada();
        place(&users, post(UserId::generate()).json(one_book()))
            .await
            .problem(404);
        place(&users, post("not-an-id").json(one_book()))
            .await
            .problem(404);
        let mut grace = user_with_email("grace@example.com");
        grace.suspend().unwrap();
        let grace = users.add(grace);
        place(&users, post(grace.id()).json(one_book()))
            .await
            .problem(403);
    }

    #[tokio::test]
    async fn store_failures_are_503_and_500() {
        let id = UserId::generate();
        let unavailable = InMemoryUsers::with_health(StoreHealth::Unavailable);
        place(&unavailable, post(id).json(one_book()))
            .await
            .unavailable();
        let failing = InMemoryUsers::with_health(StoreHealth::Failing);
        place(&failing, post(id).json(one_book())).await.internal();
    }

    #[tokio::test]
    async fn only_the_user_itself_or_an_admin_orders_for_it() {
        let (users, ada) = with_ada();
        let use_case = use_case(&users);
        let handle = |request| place_order(&use_case, request);
        assert_authentication_rows(|| post(ada.id()).json(one_book()), handle, &ada, false).await;
        let own = place_order(
            &use_case,
            post(ada.id())
                .json(one_book())
                .by(signed_in(&users, &ada))
                .build(),
        )
        .await;
        assert_eq!(Answer::of(own).status, 201);
    }
}
