//! Success responses. A user is always shown the same way, with an ETag for its version.

use application::credentials::{Session, SessionView};
use domain::{Money, Order, OrderLine, User, Version};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

/// The User JSON of the API contract.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = User)]
pub struct UserBody<'a> {
    #[schema(format = "uuid", example = "01938f7e-5a6b-7c3d-8e9f-0a1b2c3d4e5f")]
    pub id: String,
    #[schema(format = "email", example = "ada@example.com")]
    pub email: &'a str,
    #[schema(example = "Ada Lovelace")]
    pub name: &'a str,
    #[schema(value_type = UserStatusSchema)]
    pub status: &'static str,
    #[schema(value_type = RoleSchema)]
    pub role: &'static str,
    /// True once the user proved the address: a password set through an emailed token.
    pub email_verified: bool,
    /// True while a second factor is on (API.md, "Second factors").
    pub mfa_enabled: bool,
    #[schema(format = DateTime, example = "2026-11-24T10:15:30.123Z")]
    pub created_at: String,
    #[schema(format = DateTime, example = json!(null))]
    pub last_login: Option<String>,
}

/// A user's status.
#[derive(utoipa::ToSchema)]
#[schema(as = UserStatus)]
#[allow(dead_code)] // a schema only: the status travels as `&'static str`
#[serde(rename_all = "lowercase")]
pub(crate) enum UserStatusSchema {
    Active,
    Suspended,
    Deleted,
}

/// What a user may do.
#[derive(utoipa::ToSchema)]
#[schema(as = Role)]
#[allow(dead_code)] // a schema only: the role travels as `&'static str`
#[serde(rename_all = "lowercase")]
pub(crate) enum RoleSchema {
    User,
    Admin,
}

impl<'a> From<&'a User> for UserBody<'a> {
    fn from(user: &'a User) -> Self {
        Self {
            id: user.id().to_string(),
            email: user.email().as_str(),
            name: user.name().as_str(),
            status: user.status().as_str(),
            role: user.role().as_str(),
            email_verified: user.email_verified(),
            mfa_enabled: user.mfa_enabled(),
            created_at: user.created_at().to_rfc3339(),
            last_login: user.last_login().map(|at| at.to_rfc3339()),
        }
    }
}

/// Money JSON: the amount as a canonical decimal string, never a float.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Money)]
pub struct MoneyBody {
    /// Exactly as many decimals as the currency has minor units (EUR 2, JPY 0, KWD 3).
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$", example = "12.50")]
    pub amount: String,
    /// An ISO 4217 code.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
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

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = OrderLine)]
pub struct OrderLineBody<'a> {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", example = "BOOK-1")]
    pub sku: &'a str,
    #[schema(minimum = 1, maximum = 1000, example = 2)]
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
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Order)]
pub struct OrderBody<'a> {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub user_id: String,
    #[schema(example = "placed", pattern = "^placed$")]
    pub status: &'static str,
    pub items: Vec<OrderLineBody<'a>>,
    pub total: MoneyBody,
    #[schema(format = DateTime)]
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

/// What a login or a refresh answers (RFC 6749's token response, with the user).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = TokenResponse)]
pub struct SessionBody<'a> {
    /// An EdDSA-signed JWT (`typ: at+jwt`): send it as `Authorization: Bearer <token>`.
    pub access_token: &'a str,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds the access token works: 900.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// Opaque; good for one `POST /token/refresh` within 30 days of the login.
    pub refresh_token: &'a str,
    pub user: UserBody<'a>,
}

impl<'a> From<&'a Session> for SessionBody<'a> {
    fn from(session: &'a Session) -> Self {
        Self {
            access_token: &session.access.token,
            token_type: "Bearer",
            expires_in: session.access.expires_in,
            refresh_token: &session.refresh_token,
            user: UserBody::from(&session.user),
        }
    }
}

/// A session's tokens, never to be cached by anyone on the way.
pub fn session(session: &Session) -> Response<Body> {
    let mut response = json(StatusCode::OK, &SessionBody::from(session));
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(tag) = HeaderValue::from_str(&etag(session.user.version())) {
        headers.insert(header::ETAG, tag);
    }
    response
}

/// The Session JSON of the contract: one sign-in, as its user's list shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub struct SessionItemBody<'a> {
    /// The session's id: the `sid` claim of its access tokens.
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The last refresh, or the sign-in.
    #[schema(format = DateTime)]
    pub last_used_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// How the user proved who they are (RFC 8176), e.g. `["pwd"]`.
    #[schema(example = json!(["pwd"]))]
    pub amr: &'static [&'static str],
    /// The client's `User-Agent` at sign-in, cut to 256 characters.
    pub user_agent: Option<&'a str>,
    /// The source address at sign-in.
    #[schema(example = "203.0.113.7")]
    pub ip: Option<&'a str>,
    /// True for the session of the calling token.
    pub current: bool,
}

impl<'a> From<&'a SessionView> for SessionItemBody<'a> {
    fn from(view: &'a SessionView) -> Self {
        let session = &view.record;
        Self {
            id: session.id.to_string(),
            created_at: session.created_at().to_rfc3339(),
            last_used_at: session.last_used_at.to_rfc3339(),
            expires_at: session.expires_at().map(|at| at.to_rfc3339()),
            amr: session.methods.names(),
            user_agent: session.origin.user_agent.as_deref(),
            ip: session.origin.ip.as_deref(),
            current: view.current,
        }
    }
}

/// `GET /users/{id}/sessions`: every live session, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Sessions)]
pub struct SessionsBody<'a> {
    pub items: Vec<SessionItemBody<'a>>,
}

impl<'a> From<&'a [SessionView]> for SessionsBody<'a> {
    fn from(sessions: &'a [SessionView]) -> Self {
        Self {
            items: sessions.iter().map(SessionItemBody::from).collect(),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PageBody<T> {
    pub items: Vec<T>,
    /// Pass it back unchanged as `cursor` for the next page; `null` on the last page.
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
