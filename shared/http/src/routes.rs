//! One handler per route: parse, run the use case, respond. A handler answers every
//! business outcome itself; only `serve` sees the truly unexpected.

use crate::request::{self, JsonObject};
use crate::response::{self, OrderBody, PageBody, UserBody};
use crate::{FieldError, Problem};
use application::credentials::{
    ConfirmPasswordReset, Login, LoginRequest, NewPasswordRequest, RequestPasswordReset,
};
use application::orders::{
    GetOrder, ListUserOrders, PlaceOrder, PlacementRequest, UserOrdersQuery,
};
use application::ports::{
    Clock, CredentialRepository, EmailSender, IdGenerator, OrderRepository, Page, PasswordHasher,
    ResetTokens, StatusFilter, UserListQuery, UserRepository,
};
use application::users::{
    ActivateUser, ChangeEmail, CreateUser, DeleteUser, GetUser, ListUsers, NewUser, RecordLogin,
    SuspendUser, UpdateUserEmail,
};
use domain::{
    Currency, Email, LineRequest, Money, Order, Password, Quantity, Sku, UserName, UserStatus,
};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};

pub type HandlerResult = Result<Response<Body>, Problem>;

/// `POST /users`
pub async fn create_user<R, M, C, I>(
    use_case: &CreateUser<R, M, C, I>,
    request: Request,
) -> HandlerResult
where
    R: UserRepository,
    M: EmailSender,
    C: Clock,
    I: IdGenerator,
{
    let mut body = JsonObject::from_request(&request)?;
    let email = body.string("email", Email::parse);
    let name = body.string("name", UserName::parse);
    let (email, name) = body.finish(email.zip(name))?;
    let user = use_case.execute(NewUser { email, name }).await?;
    Ok(response::created_user(&user))
}

/// `GET /users/{id}`
pub async fn get_user<R: UserRepository>(use_case: &GetUser<R>, request: Request) -> HandlerResult {
    let user = use_case.execute(request::user_id(&request)?).await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `GET /users?status=&limit=&cursor=`
pub async fn list_users<R: UserRepository>(
    use_case: &ListUsers<R>,
    request: Request,
) -> HandlerResult {
    let mut errors = Vec::new();
    let status = match request::single_query_value(&request, "status", &mut errors) {
        None => Some(StatusFilter::NotDeleted),
        Some(raw) => UserStatus::parse(&raw).map(StatusFilter::Only).or_else(|| {
            errors.push(FieldError::new(
                "status",
                "must be one of active, suspended, deleted",
            ));
            None
        }),
    };
    let (limit, cursor) = request::page_parameters(&request, &mut errors);
    let (Some(status), Some(limit), true) = (status, limit, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let page = use_case
        .execute(UserListQuery {
            status,
            limit,
            cursor,
        })
        .await?;
    Ok(page_response(&page, UserBody::from))
}

fn page_response<'a, T: 'a, B: serde::Serialize>(
    page: &'a Page<T>,
    body: impl Fn(&'a T) -> B,
) -> Response<Body> {
    let body = PageBody {
        items: page.items.iter().map(body).collect(),
        next_cursor: page
            .next_cursor
            .as_ref()
            .map(|cursor| cursor.as_str().to_owned()),
    };
    response::json(StatusCode::OK, &body)
}

/// `PUT /users/{id}/email`
pub async fn update_user_email<R: UserRepository>(
    use_case: &UpdateUserEmail<R>,
    request: Request,
) -> HandlerResult {
    let id = request::user_id(&request)?;
    let mut body = JsonObject::from_request(&request)?;
    let email = body.string("email", Email::parse);
    let email = body.finish(email)?;
    let if_match = request::if_match(&request);
    let user = use_case
        .execute(ChangeEmail {
            id,
            email,
            if_match,
        })
        .await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `POST /users/{id}/suspend`
pub async fn suspend_user<R: UserRepository>(
    use_case: &SuspendUser<R>,
    request: Request,
) -> HandlerResult {
    let if_match = request::if_match(&request);
    let user = use_case
        .execute(request::user_id(&request)?, if_match.as_ref())
        .await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `POST /users/{id}/activate`
pub async fn activate_user<R: UserRepository>(
    use_case: &ActivateUser<R>,
    request: Request,
) -> HandlerResult {
    let if_match = request::if_match(&request);
    let user = use_case
        .execute(request::user_id(&request)?, if_match.as_ref())
        .await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `DELETE /users/{id}`
pub async fn delete_user<R: UserRepository>(
    use_case: &DeleteUser<R>,
    request: Request,
) -> HandlerResult {
    let if_match = request::if_match(&request);
    use_case
        .execute(request::user_id(&request)?, if_match.as_ref())
        .await?;
    Ok(response::no_content())
}

/// `POST /users/{id}/logins`
pub async fn record_login<R: UserRepository, C: Clock>(
    use_case: &RecordLogin<R, C>,
    request: Request,
) -> HandlerResult {
    let if_match = request::if_match(&request);
    let user = use_case
        .execute(request::user_id(&request)?, if_match.as_ref())
        .await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `POST /users/{id}/orders`
pub async fn place_order<U, O, M, C, I>(
    use_case: &PlaceOrder<U, O, M, C, I>,
    request: Request,
) -> HandlerResult
where
    U: UserRepository,
    O: OrderRepository,
    M: EmailSender,
    C: Clock,
    I: IdGenerator,
{
    let user_id = request::user_id(&request)?;
    let mut body = JsonObject::from_request(&request)?;
    let lines = body.array("items", 1..=Order::MAX_ITEMS, read_line);
    let lines = body.finish(lines)?;
    let order = use_case
        .execute(PlacementRequest { user_id, lines })
        .await?;
    Ok(response::created_order(&order))
}

fn read_line(item: &mut JsonObject) -> Option<LineRequest> {
    let sku = item.string("sku", Sku::parse);
    let quantity = item.integer("quantity", Quantity::new);
    let unit_price = item.object("unit_price", read_money);
    Some(LineRequest {
        sku: sku?,
        quantity: quantity?,
        unit_price: unit_price?,
    })
}

/// Money JSON: the amount is read as a string, exactly, in the currency's minor units.
fn read_money(money: &mut JsonObject) -> Option<Money> {
    let amount = money.string("amount", |raw| {
        Ok::<_, std::convert::Infallible>(raw.to_owned())
    });
    let currency = money.string("currency", Currency::parse);
    let (amount, currency) = (amount?, currency?);
    Money::parse(&amount, currency)
        .map_err(|error| money.fail("amount", error))
        .ok()
}

/// `GET /users/{id}/orders/{order_id}`
pub async fn get_order<U: UserRepository, O: OrderRepository>(
    use_case: &GetOrder<U, O>,
    request: Request,
) -> HandlerResult {
    let user_id = request::user_id(&request)?;
    let order_id = request::order_id(&request)?;
    let order = use_case.execute(user_id, order_id).await?;
    Ok(response::json(StatusCode::OK, &OrderBody::from(&order)))
}

/// `GET /users/{id}/orders?limit=&cursor=`
pub async fn list_user_orders<U: UserRepository, O: OrderRepository>(
    use_case: &ListUserOrders<U, O>,
    request: Request,
) -> HandlerResult {
    let user_id = request::user_id(&request)?;
    let mut errors = Vec::new();
    let (limit, cursor) = request::page_parameters(&request, &mut errors);
    let (Some(limit), true) = (limit, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let page = use_case
        .execute(UserOrdersQuery {
            user_id,
            limit,
            cursor,
        })
        .await?;
    Ok(page_response(&page, OrderBody::from))
}

/// A string taken as sent: no trimming, any length the body allows.
fn verbatim(raw: &str) -> Result<String, std::convert::Infallible> {
    Ok(raw.to_owned())
}

/// `POST /password-reset`
pub async fn request_password_reset<U, K, M, T, C>(
    use_case: &RequestPasswordReset<U, K, M, T, C>,
    request: Request,
) -> HandlerResult
where
    U: UserRepository,
    K: CredentialRepository,
    M: EmailSender,
    T: ResetTokens,
    C: Clock,
{
    let mut body = JsonObject::from_request(&request)?;
    let email = body.string("email", Email::parse);
    let email = body.finish(email)?;
    use_case.execute(email).await?;
    Ok(response::accepted())
}

/// `POST /password-reset/confirm`
pub async fn confirm_password_reset<K, H, T, C>(
    use_case: &ConfirmPasswordReset<K, H, T, C>,
    request: Request,
) -> HandlerResult
where
    K: CredentialRepository,
    H: PasswordHasher,
    T: ResetTokens,
    C: Clock,
{
    let mut body = JsonObject::from_request(&request)?;
    let token = body.string("token", verbatim);
    let new_password = body.string("new_password", Password::parse);
    let (token, new_password) = body.finish(token.zip(new_password))?;
    use_case
        .execute(NewPasswordRequest {
            token,
            new_password,
        })
        .await?;
    Ok(response::no_content())
}

/// `POST /login`
pub async fn login<U, K, H, C>(use_case: &Login<U, K, H, C>, request: Request) -> HandlerResult
where
    U: UserRepository,
    K: CredentialRepository,
    H: PasswordHasher,
    C: Clock,
{
    let mut body = JsonObject::from_request(&request)?;
    let email = body.string("email", Email::parse);
    let password = body.string("password", verbatim);
    let (email, password) = body.finish(email.zip(password))?;
    let user = use_case.execute(LoginRequest { email, password }).await?;
    Ok(response::user(StatusCode::OK, &user))
}

/// `GET /openapi.json` and `GET /docs`: both answered by one function.
pub async fn documentation(document: &str, page: &str, request: Request) -> HandlerResult {
    let (content_type, body) = if request.uri().path().ends_with("/openapi.json") {
        ("application/json", document)
    } else {
        ("text/html; charset=utf-8", page)
    };
    let mut response = Response::new(Body::from(body.to_owned()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The document changes only with a deployment.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(response)
}
