//! The OpenAPI 3.1 document of every route, generated from the types the handlers use.
//!
//! Request bodies are read field by field (so one 422 can name every failing field); their
//! shapes are the `*Request` types below, which carry the same rules as the parsers.
//! `tests/deployment_agreement.rs` checks that this document names exactly the routed paths.

#![allow(dead_code)] // the request types and `fn`s here exist for the document only

use crate::problem::{FieldError, Problem};
use crate::response::{MoneyBody, OrderBody, OrderLineBody, PageBody, UserBody};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{OpenApi, ToResponse, ToSchema};

/// `POST /users`
#[derive(ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "name": "Ada Lovelace"}))]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Trimmed; one `@` and a dotted domain; unique, ignoring case.
    #[schema(format = "email", max_length = 254)]
    email: String,
    /// Trimmed; no control characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
}

/// `PUT /users/{id}/email`
#[derive(ToSchema)]
#[schema(example = json!({"email": "ada@lovelace.org"}))]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    #[schema(format = "email", max_length = 254)]
    email: String,
}

/// Money as sent: the amount is a decimal string, never a number.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyRequest {
    /// At most as many decimals as the currency has minor units; never negative.
    #[schema(pattern = r"^[0-9]+(\.[0-9]+)?$", example = "12.50")]
    amount: String,
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    currency: String,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderLineRequest {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$", example = "BOOK-1")]
    sku: String,
    #[schema(minimum = 1, maximum = 1000, example = 2)]
    quantity: u32,
    unit_price: MoneyRequest,
}

/// `POST /users/{id}/orders`: all items in one currency.
#[derive(ToSchema)]
#[schema(example = json!({"items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": {"amount": "12.50", "currency": "EUR"}}]}))]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    #[schema(min_items = 1, max_items = 100)]
    items: Vec<OrderLineRequest>,
}

/// `POST /password-reset`
#[derive(ToSchema)]
#[schema(example = json!({"email": "ada@example.com"}))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    #[schema(format = "email", max_length = 254)]
    email: String,
}

/// `POST /password-reset/confirm`
#[derive(ToSchema)]
#[schema(example = json!({"token": "Zk9nX3Rva2VuLWZyb20tdGhlLWVtYWlsLWFzLXNlbnQ", "new_password": "correct horse battery"}))]
#[serde(deny_unknown_fields)]
pub struct ConfirmPasswordResetRequest {
    /// The `token=` value of the reset email.
    token: String,
    #[schema(min_length = 12, max_length = 128, format = Password)]
    new_password: String,
}

/// `POST /login`
#[derive(ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery"}))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(format = "email", max_length = 254)]
    email: String,
    #[schema(format = Password)]
    password: String,
}

/// A problem response, referring to the one `Problem` schema.
fn problem(description: &str) -> ResponseBuilder {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", content)
}

macro_rules! problem_response {
    ($name:ident, $description:literal) => {
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), problem($description).build().into())
            }
        }
    };
}

problem_response!(
    BadRequest,
    "The body is not JSON, not an object, or lacks `Content-Type: application/json`; or the cursor is invalid."
);
problem_response!(
    InvalidToken,
    "The token is unknown, used or expired (one detail for all three); or the body is not a JSON object."
);
problem_response!(
    Unauthorized,
    "The email or password is wrong; one detail for both."
);
problem_response!(
    Forbidden,
    "The user's status forbids this (e.g. suspended)."
);
problem_response!(
    NotFound,
    "Unknown id, a malformed id, or a user that is not visible."
);
problem_response!(
    Conflict,
    "The email address is taken, or the user's state forbids the change."
);
problem_response!(
    PreconditionFailed,
    "`If-Match` names a version that is no longer current."
);
problem_response!(PayloadTooLarge, "The body is larger than 64 KiB.");
problem_response!(
    ValidationFailed,
    "Fields failed validation; `errors` lists every one of them."
);
problem_response!(
    InternalError,
    "Something failed on the service's side; the cause is logged, not shown."
);

/// Throttled or unreachable data store.
pub struct ServiceUnavailable;

impl<'r> ToResponse<'r> for ServiceUnavailable {
    fn response() -> (&'r str, RefOr<Response>) {
        let retry_after = HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .description(Some("Seconds to wait before retrying"))
            .build();
        let response = problem(
            "The data store is throttled or unreachable; retry after `Retry-After` seconds.",
        )
        .header("Retry-After", retry_after)
        .build();
        ("ServiceUnavailable", response.into())
    }
}

#[utoipa::path(post, path = "/users", tag = "Users",
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: a repeat with the same key and body gets the first answer again (with `Idempotency-Replayed: true`) for an hour; another body is a 422, a repeat while the first runs a 409. 1 to 255 printable ASCII characters.")),
    request_body(content = NewUserRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered; a welcome email is on its way.", body = UserBody,
            headers(("Location" = String, description = "`/users/{id}`"), ("ETag" = String, description = "The user's version"))),
        (status = 400, response = BadRequest), (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge), (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn create_user() {}

#[utoipa::path(get, path = "/users/{id}", tag = "Users",
    params(("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")),
    responses(
        (status = 200, description = "The user, if active.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn get_user() {}

#[utoipa::path(get, path = "/users", tag = "Users",
    params(
        ("status" = Option<crate::response::UserStatusSchema>, Query, description = "Only users with this status; default: all but deleted"),
        ("limit" = Option<u8>, Query, description = "Page size", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, unchanged"),
    ),
    responses(
        (status = 200, description = "One page, newest first.", body = PageBody<UserBody>),
        (status = 400, response = BadRequest), (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn list_users() {}

#[utoipa::path(put, path = "/users/{id}/email", tag = "Users",
    params(
        ("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("If-Match" = Option<String>, Header, description = "The ETag the change applies to; `*` for any"),
    ),
    request_body(content = EmailChangeRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The user with its new address; the same address again changes nothing.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 400, response = BadRequest), (status = 404, response = NotFound),
        (status = 409, response = Conflict), (status = 412, response = PreconditionFailed),
        (status = 413, response = PayloadTooLarge), (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn update_user_email() {}

#[utoipa::path(post, path = "/users/{id}/suspend", tag = "Users",
    params(
        ("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("If-Match" = Option<String>, Header, description = "The ETag the change applies to; `*` for any"),
    ),
    responses(
        (status = 200, description = "The suspended user (also when it already was).", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 404, response = NotFound), (status = 412, response = PreconditionFailed), (status = 409, response = Conflict),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn suspend_user() {}

#[utoipa::path(post, path = "/users/{id}/activate", tag = "Users",
    params(
        ("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("If-Match" = Option<String>, Header, description = "The ETag the change applies to; `*` for any"),
    ),
    responses(
        (status = 200, description = "The active user (also when it already was).", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 404, response = NotFound), (status = 412, response = PreconditionFailed), (status = 409, response = Conflict),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn activate_user() {}

#[utoipa::path(delete, path = "/users/{id}", tag = "Users",
    params(
        ("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("If-Match" = Option<String>, Header, description = "The ETag the deletion applies to; `*` for any"),
    ),
    responses(
        (status = 204, description = "Soft-deleted: the record stays, the address is free again."),
        (status = 404, response = NotFound), (status = 412, response = PreconditionFailed), (status = 409, response = Conflict),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn delete_user() {}

#[utoipa::path(post, path = "/users/{id}/logins", tag = "Users",
    params(
        ("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("If-Match" = Option<String>, Header, description = "The ETag the change applies to; `*` for any"),
    ),
    responses(
        (status = 200, description = "The user with `last_login` set.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 403, response = Forbidden), (status = 404, response = NotFound), (status = 412, response = PreconditionFailed),
        (status = 409, response = Conflict),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn record_login() {}

#[utoipa::path(post, path = "/users/{id}/orders", tag = "Orders",
    params(
        ("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: a repeat with the same key and body gets the first answer again (with `Idempotency-Replayed: true`) for an hour; another body is a 422, a repeat while the first runs a 409. 1 to 255 printable ASCII characters."),
    ),
    request_body(content = PlaceOrderRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Placed, with exact line totals and total; a confirmation email is on its way.", body = OrderBody,
            headers(("Location" = String, description = "`/users/{id}/orders/{order_id}`"))),
        (status = 400, response = BadRequest), (status = 403, response = Forbidden),
        (status = 404, response = NotFound), (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn place_order() {}

#[utoipa::path(get, path = "/users/{id}/orders/{order_id}", tag = "Orders",
    params(
        ("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("order_id" = String, Path, description = "The order's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
    ),
    responses(
        (status = 200, description = "The order.", body = OrderBody),
        (status = 404, response = NotFound),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn get_order() {}

#[utoipa::path(get, path = "/users/{id}/orders", tag = "Orders",
    params(
        ("id" = String, Path, description = "The user's id", format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$"),
        ("limit" = Option<u8>, Query, description = "Page size", minimum = 1, maximum = 100),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, unchanged"),
    ),
    responses(
        (status = 200, description = "One page of the user's orders, newest first.", body = PageBody<OrderBody>),
        (status = 400, response = BadRequest), (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn list_user_orders() {}

#[utoipa::path(post, path = "/password-reset", tag = "Credentials",
    request_body(content = PasswordResetRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted, whether or not the address belongs to anyone. An active user gets a token by email, valid for one hour, once."),
        (status = 400, response = BadRequest), (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn request_password_reset() {}

#[utoipa::path(post, path = "/password-reset/confirm", tag = "Credentials",
    request_body(content = ConfirmPasswordResetRequest, content_type = "application/json"),
    responses(
        (status = 204, description = "The new password is set (Argon2id)."),
        (status = 400, response = InvalidToken),
        (status = 413, response = PayloadTooLarge), (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn confirm_password_reset() {}

#[utoipa::path(post, path = "/login", tag = "Credentials",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The user, with `last_login` set.", body = UserBody,
            headers(("ETag" = String, description = "The user's version"))),
        (status = 400, response = BadRequest), (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden), (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge), (status = 422, response = ValidationFailed),
        (status = 500, response = InternalError), (status = 503, response = ServiceUnavailable),
    ))]
fn login() {}

#[utoipa::path(get, path = "/openapi.json", tag = "Documentation",
    responses((status = 200, description = "This document.", content_type = "application/json", body = Object)))]
fn openapi_document() {}

#[utoipa::path(get, path = "/docs", tag = "Documentation",
    responses((status = 200, description = "An HTML page that renders this document, with no internet access needed.", content_type = "text/html", body = String)))]
fn docs_page() {}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "User service",
        description = "Users, orders and credentials, served by one AWS Lambda function per route. Every error is RFC 9457 problem JSON.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        create_user, get_user, list_users, update_user_email, suspend_user, activate_user,
        delete_user, record_login, place_order, get_order, list_user_orders,
        request_password_reset, confirm_password_reset, login, openapi_document, docs_page,
    ),
    components(
        schemas(Problem, FieldError, UserBody, OrderBody, OrderLineBody, MoneyBody),
        responses(BadRequest, InvalidToken, Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed,
            PayloadTooLarge, ValidationFailed, InternalError, ServiceUnavailable),
    ),
    tags(
        (name = "Users", description = "Registration, reading, listing and the user's lifecycle"),
        (name = "Orders", description = "Orders with exact money"),
        (name = "Credentials", description = "Password reset by email, and login"),
        (name = "Documentation", description = "This document and its viewer"),
    ),
)]
pub struct ApiDoc;

/// The document as pretty JSON, as served and as checked in at `docs/openapi.json`.
pub fn document_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_document_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == document_json(),
            "docs/openapi.json is out of date with the code: run `make openapi` and commit it"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_problem_response_as_problem_json() {
        let document: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        let responses = document["components"]["responses"].as_object().unwrap();
        assert!(responses.len() >= 10);
        for (name, response) in responses {
            let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
            assert_eq!(schema, "#/components/schemas/Problem", "{name}");
        }
    }
}
