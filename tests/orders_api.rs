//! The Orders API end to end, checked against the contract in API.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use reqwest::Method;
use serde_json::{Value, json};
use service_tests::{Api, Reply, mailbox_for, unique_email};

const UNKNOWN_ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";

fn id_of(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

fn item(sku: &str, quantity: Value, amount: Value, currency: &str) -> Value {
    json!({"sku": sku, "quantity": quantity, "unit_price": {"amount": amount, "currency": currency}})
}

async fn user(api: &Api) -> (String, String) {
    let email = unique_email("buyer");
    (id_of(&api.create_user(&email, "Buyer").await), email)
}

async fn place(api: &Api, user_id: &str, items: Value) -> Reply {
    api.send_json(
        Method::POST,
        &format!("/users/{user_id}/orders"),
        &json!({"items": items}),
    )
    .await
}

fn fields_of(reply: &Reply) -> Vec<String> {
    reply.expect_problem(422)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn placing_an_order_computes_exact_totals_and_answers_201_with_its_location() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    let reply = place(
        &api,
        &user_id,
        json!([
            item("BOOK-1", json!(2), json!("12.50"), "EUR"),
            item("pen_2", json!(3), json!("0.1"), "EUR")
        ]),
    )
    .await;

    assert_eq!(reply.status, 201, "{}", reply.body);
    let order = &reply.body;
    assert_eq!(
        reply.header("location"),
        Some(format!("/users/{user_id}/orders/{}", id_of(order)).as_str())
    );
    assert_eq!(order["user_id"], user_id.as_str());
    assert_eq!(order["status"], "placed");
    assert_eq!(
        order["items"],
        json!([
            {"sku": "BOOK-1", "quantity": 2, "unit_price": {"amount": "12.50", "currency": "EUR"}, "line_total": {"amount": "25.00", "currency": "EUR"}},
            {"sku": "pen_2", "quantity": 3, "unit_price": {"amount": "0.10", "currency": "EUR"}, "line_total": {"amount": "0.30", "currency": "EUR"}},
        ])
    );
    assert_eq!(
        order["total"],
        json!({"amount": "25.30", "currency": "EUR"})
    );
    assert!(order["created_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn currencies_keep_their_minor_units() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    for (amount, currency, total) in [
        ("300", "JPY", "900"),
        ("3.702", "KWD", "11.106"),
        ("7", "USD", "21.00"),
    ] {
        let reply = place(
            &api,
            &user_id,
            json!([item("X", json!(3), json!(amount), currency)]),
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert_eq!(
            reply.body["total"],
            json!({"amount": total, "currency": currency})
        );
    }
}

#[tokio::test]
async fn the_buyer_gets_a_confirmation_with_the_lines_and_total() {
    let api = Api::default();
    let (user_id, email) = user(&api).await;
    let reply = place(
        &api,
        &user_id,
        json!([item("BOOK-1", json!(2), json!("12.50"), "EUR")]),
    )
    .await;
    assert_eq!(reply.status, 201);

    let confirmations: Vec<Value> = mailbox_for(&email)
        .await
        .into_iter()
        .filter(|mail| {
            mail["subject"]
                .as_str()
                .unwrap()
                .contains(&id_of(&reply.body))
        })
        .collect();
    assert_eq!(confirmations.len(), 1);
    let text = confirmations[0]["body"]["text"].as_str().unwrap();
    assert!(
        text.contains("2 x BOOK-1 at 12.50 EUR = 25.00 EUR"),
        "{text}"
    );
    assert!(text.contains("Total: 25.00 EUR"), "{text}");
}

#[tokio::test]
async fn every_invalid_money_is_a_422_on_its_field() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    let amount_field = "items[0].unit_price.amount";
    let currency_field = "items[0].unit_price.currency";
    for (amount, currency, field) in [
        (json!(12.5), "EUR", amount_field), // a float, not a decimal string
        (json!(12), "EUR", amount_field),   // a number at all
        (json!("1.234"), "EUR", amount_field), // more decimals than EUR has
        (json!("1.5"), "JPY", amount_field), // JPY has none
        (json!("3.7025"), "KWD", amount_field), // KWD has three
        (json!("-1.00"), "EUR", amount_field), // negative
        (json!("1e3"), "EUR", amount_field), // not decimal notation
        (json!("1,50"), "EUR", amount_field),
        (json!(""), "EUR", amount_field),
        (json!("92233720368547758.08"), "EUR", amount_field), // beyond i64 minor units
        (json!("1.00"), "EURO", currency_field),              // not ISO 4217
        (json!("1.00"), "eur", currency_field),
        (json!("1.00"), "XAU", currency_field), // no minor units
    ] {
        let reply = place(
            &api,
            &user_id,
            json!([item("A", json!(1), amount.clone(), currency)]),
        )
        .await;
        assert_eq!(
            fields_of(&reply),
            [field],
            "{amount} {currency}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn mixed_currencies_and_overflowing_totals_are_a_422() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    let mixed = json!([
        item("A", json!(1), json!("1.00"), "EUR"),
        item("B", json!(1), json!("1.00"), "USD")
    ]);
    assert_eq!(fields_of(&place(&api, &user_id, mixed).await), ["items"]);
    let huge = json!([item("A", json!(1000), json!("92233720368547758.07"), "EUR")]);
    assert_eq!(fields_of(&place(&api, &user_id, huge).await), ["items"]);
    let listed = api.get(&format!("/users/{user_id}/orders")).await;
    assert_eq!(listed.body["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn items_quantities_and_skus_keep_their_bounds() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    assert_eq!(
        fields_of(&place(&api, &user_id, json!([])).await),
        ["items"]
    );
    let hundred_and_one: Vec<Value> = (0..101)
        .map(|_| item("A", json!(1), json!("1"), "JPY"))
        .collect();
    assert_eq!(
        fields_of(&place(&api, &user_id, json!(hundred_and_one)).await),
        ["items"]
    );
    let hundred: Vec<Value> = (0..100)
        .map(|_| item("A", json!(1), json!("1"), "JPY"))
        .collect();
    assert_eq!(place(&api, &user_id, json!(hundred)).await.status, 201);

    for quantity in [
        json!(0),
        json!(1001),
        json!(-1),
        json!(2.5),
        json!("2"),
        json!(null),
    ] {
        let reply = place(
            &api,
            &user_id,
            json!([item("A", quantity.clone(), json!("1"), "JPY")]),
        )
        .await;
        assert_eq!(fields_of(&reply), ["items[0].quantity"], "{quantity}");
    }
    assert_eq!(
        place(
            &api,
            &user_id,
            json!([item("A", json!(1000), json!("1"), "JPY")])
        )
        .await
        .status,
        201
    );
    for sku in ["", "with space", "a/b", "ünicode", &"S".repeat(65)] {
        let reply = place(
            &api,
            &user_id,
            json!([item(sku, json!(1), json!("1"), "JPY")]),
        )
        .await;
        assert_eq!(fields_of(&reply), ["items[0].sku"], "{sku}");
    }
    assert_eq!(
        place(
            &api,
            &user_id,
            json!([item(&"S".repeat(64), json!(1), json!("1"), "JPY")])
        )
        .await
        .status,
        201
    );
}

#[tokio::test]
async fn every_failing_field_and_unknown_member_is_listed_with_its_path() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    let body = json!({
        "items": [
            {"sku": "OK", "quantity": 1, "unit_price": {"amount": "1.00", "currency": "EUR", "tax": 1}},
            {"sku": "bad sku", "quantity": 0, "unit_price": {"amount": 1.5, "currency": "EUR"}, "note": "x"},
            "not an object",
        ],
        "coupon": "FREE",
    });
    let reply = api
        .send_json(Method::POST, &format!("/users/{user_id}/orders"), &body)
        .await;
    assert_eq!(
        fields_of(&reply),
        [
            "items[0].unit_price.tax",
            "items[1].sku",
            "items[1].quantity",
            "items[1].unit_price.amount",
            "items[1].note",
            "items[2]",
            "coupon",
        ]
    );
}

#[tokio::test]
async fn orders_need_a_known_active_user() {
    let api = Api::default();
    let items = json!([item("A", json!(1), json!("1"), "JPY")]);
    place(&api, UNKNOWN_ID, items.clone())
        .await
        .expect_problem(404);
    place(&api, "not-an-id", items.clone())
        .await
        .expect_problem(404);

    let (suspended, _) = user(&api).await;
    api.post(&format!("/users/{suspended}/suspend"))
        .await
        .expect_user(200);
    place(&api, &suspended, items.clone())
        .await
        .expect_problem(403);

    let (deleted, _) = user(&api).await;
    assert_eq!(api.delete(&format!("/users/{deleted}")).await.status, 204);
    place(&api, &deleted, items).await.expect_problem(404);
}

#[tokio::test]
async fn order_bodies_that_are_not_json_objects_or_too_big_are_refused() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    let path = format!("/users/{user_id}/orders");
    api.send(api.request(Method::POST, &path).body("{\"items\": []}"))
        .await
        .expect_problem(400);
    let not_json = api
        .request(Method::POST, &path)
        .header("content-type", "application/json")
        .body("{items}");
    api.send(not_json).await.expect_problem(400);
    api.send_json(Method::POST, &path, &json!(["items"]))
        .await
        .expect_problem(400);
    let big: Vec<Value> = (0..100)
        .map(|_| item(&"S".repeat(64), json!(1), json!("1".repeat(700)), "JPY"))
        .collect();
    api.send_json(Method::POST, &path, &json!({"items": big}))
        .await
        .expect_problem(413);
}

#[tokio::test]
async fn an_order_is_readable_by_its_owner_only() {
    let api = Api::default();
    let (owner, _) = user(&api).await;
    let (other, _) = user(&api).await;
    let placed = place(
        &api,
        &owner,
        json!([item("A", json!(1), json!("2.50"), "EUR")]),
    )
    .await;
    let order_id = id_of(&placed.body);

    let read = api.get(&format!("/users/{owner}/orders/{order_id}")).await;
    assert_eq!((read.status.as_u16(), &read.body), (200, &placed.body));
    api.get(&format!("/users/{other}/orders/{order_id}"))
        .await
        .expect_problem(404);
    api.get(&format!("/users/{owner}/orders/{UNKNOWN_ID}"))
        .await
        .expect_problem(404);
    api.get(&format!("/users/{owner}/orders/not-an-id"))
        .await
        .expect_problem(404);
    api.get(&format!("/users/{UNKNOWN_ID}/orders/{order_id}"))
        .await
        .expect_problem(404);
}

#[tokio::test]
async fn a_users_orders_page_newest_first_and_each_once() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    let (other, _) = user(&api).await;
    let mut placed = Vec::new();
    for n in 0..5 {
        let reply = place(
            &api,
            &user_id,
            json!([item(&format!("SKU-{n}"), json!(1), json!("1"), "JPY")]),
        )
        .await;
        placed.push(id_of(&reply.body));
        place(
            &api,
            &other,
            json!([item("OTHER", json!(1), json!("1"), "JPY")]),
        )
        .await;
    }
    placed.reverse();

    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let mut path = format!("/users/{user_id}/orders?limit=2");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let reply = api.get(&path).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let page = reply.body["items"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(id_of));
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, placed);
}

#[tokio::test]
async fn bad_order_listings_fail_clearly() {
    let api = Api::default();
    let (user_id, _) = user(&api).await;
    let (other, _) = user(&api).await;
    for _ in 0..2 {
        place(
            &api,
            &user_id,
            json!([item("A", json!(1), json!("1"), "JPY")]),
        )
        .await;
    }
    let first = api.get(&format!("/users/{user_id}/orders?limit=1")).await;
    let cursor = first.body["next_cursor"].as_str().expect("a second page");

    api.get(&format!("/users/{other}/orders?cursor={cursor}"))
        .await
        .expect_problem(400);
    api.get(&format!("/users/{user_id}/orders?cursor=forged"))
        .await
        .expect_problem(400);
    assert_eq!(
        fields_of(&api.get(&format!("/users/{user_id}/orders?limit=0")).await),
        ["limit"]
    );
    api.get(&format!("/users/{UNKNOWN_ID}/orders"))
        .await
        .expect_problem(404);
}
