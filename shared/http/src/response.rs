//! Success responses. A user is always shown the same way, with an ETag for its version.

use domain::{Money, Order, OrderLine, User, Version};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// The User JSON of the API contract.
#[derive(Debug, Serialize)]
pub struct UserBody<'a> {
    pub id: String,
    pub email: &'a str,
    pub name: &'a str,
    pub status: &'static str,
    pub created_at: String,
    pub last_login: Option<String>,
}

impl<'a> From<&'a User> for UserBody<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id().to_string(),
            email: user.email().as_str(),
            name: user.name().as_str(),
            status: user.status().as_str(),
            created_at: user.created_at().to_rfc3339(),
            last_login: user.last_login().map(|at| at.to_rfc3339()),
        }
    }
}

/// Money JSON: the amount as a canonical decimal string, never a float.
#[derive(Debug, Serialize)]
pub struct MoneyBody {
    pub amount: String,
    pub currency: &'static str,
}

impl From<Money> for MoneyBody {
    fn from(money: Money) -> Self {
        Self {
            amount: money.amount(),
            currency: money.currency().code(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct OrderLineBody<'a> {
    pub sku: &'a str,
    pub quantity: u32,
    pub unit_price: MoneyBody,
    pub line_total: MoneyBody,
}

impl<'a> From<&'a OrderLine> for OrderLineBody<'a> {
    fn from(line: &'a OrderLine) -> Self {
        Self {
            sku: line.sku().as_str(),
            quantity: line.quantity().get(),
            unit_price: line.unit_price().into(),
            line_total: line.line_total().into(),
        }
    }
}

/// The Order JSON of the API contract.
#[derive(Debug, Serialize)]
pub struct OrderBody<'a> {
    pub id: String,
    pub user_id: String,
    pub status: &'static str,
    pub items: Vec<OrderLineBody<'a>>,
    pub total: MoneyBody,
    pub created_at: String,
}

impl<'a> From<&'a Order> for OrderBody<'a> {
    fn from(order: &'a Order) -> Self {
        Self {
            id: order.id().to_string(),
            user_id: order.user_id().to_string(),
            status: order.status().as_str(),
            items: order.lines().iter().map(OrderLineBody::from).collect(),
            total: order.total().into(),
            created_at: order.created_at().to_rfc3339(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PageBody<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub fn etag(version: Version) -> String {
    format!("\"{}\"", version.get())
}

pub fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Our bodies are plain structs of strings and numbers, which always serialize.
    let text = serde_json::to_string(body).unwrap_or_default();
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn user(status: StatusCode, user: &User) -> Response<Body> {
    let mut response = json(status, &UserBody::from(user));
    if let Ok(tag) = HeaderValue::from_str(&etag(user.version())) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response
}

pub fn created_user(user: &User) -> Response<Body> {
    let mut response = self::user(StatusCode::CREATED, user);
    if let Ok(location) = HeaderValue::from_str(&format!("/users/{}", user.id())) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub fn created_order(order: &Order) -> Response<Body> {
    let mut response = json(StatusCode::CREATED, &OrderBody::from(order));
    let location = format!("/users/{}/orders/{}", order.user_id(), order.id());
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

pub fn accepted() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

pub fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
