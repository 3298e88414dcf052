//! The OpenAPI 3.1 document of every route, assembled from the routes' own annotations
//! (`routes::*`, beside each handler and its request type), plus the problem responses they
//! share. `tests/deployment_agreement.rs` checks that this document names exactly the routed
//! paths.

use crate::problem::{FieldError, Problem};
use crate::response::{MoneyBody, OrderBody, OrderLineBody, UserBody};
use crate::routes::{credentials, documentation, jwks, orders, users};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToResponse};

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
    "The caller's role does not allow this route (a user on an admin route), or the user's status forbids it (e.g. suspended); a wrong `current_password` or `code`, or no fresh sign-in, where a route asks for step-up (`/problems/wrong-password`, `/problems/wrong-code`, `/problems/reauthentication-required`); or, with the stack's admin MFA setting `required`, an administrator's token whose `amr` lacks `mfa` on an admin route (`/problems/mfa-required`)."
);
problem_response!(
    InvalidPasskey,
    "The assertion failed: an unknown or removed passkey, a bad signature, a wrong challenge or origin, no user verification, a used or expired challenge, or a signature counter gone back; one detail for all."
);
problem_response!(
    InvalidSecondFactor,
    "The code is wrong, replayed or used, or the `mfa_token` is unknown, expired or used; one detail for all. A wrong code counts toward the address's lockout."
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
    InvalidRefreshToken,
    "The refresh token is unknown, expired, revoked or already used (which revokes its family), or its user can no longer log in; one detail for all."
);
problem_response!(
    ValidationFailed,
    "Fields failed validation; `errors` lists every one of them."
);
problem_response!(
    InternalError,
    "Something failed on the service's side; the cause is logged, not shown."
);

/// No valid access token, on a route that needs one.
pub struct MissingToken;

impl<'r> ToResponse<'r> for MissingToken {
    fn response() -> (&'r str, RefOr<Response>) {
        let challenge = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "`Bearer`, with `error=\"invalid_token\"` when the token sent is not valid",
            ))
            .build();
        let response = problem(
            "No access token, or one that is malformed, expired, signed by another key, or for another issuer or audience.",
        )
        .header("WWW-Authenticate", challenge)
        .build();
        ("MissingToken", response.into())
    }
}

/// An address locked by failed logins.
pub struct TooManyAttempts;

impl<'r> ToResponse<'r> for TooManyAttempts {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = problem(
            "Too many failed logins for this address (known or not): no password was checked; retry after `Retry-After` seconds.",
        )
        .header("Retry-After", retry_after_header())
        .build();
        ("TooManyAttempts", response.into())
    }
}

/// Seconds to wait, as the `Retry-After` header of a 429 or 503.
fn retry_after_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .description(Some("Seconds to wait before retrying"))
        .build()
}

/// `POST /login`'s 403: the password is right, but the user cannot log in, or a second factor
/// is on and the login goes on at `POST /login/mfa`.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"type": "/problems/mfa-required", "title": "Second factor required", "status": 403,
    "detail": "the password is right; finish signing in with a code at POST /login/mfa",
    "mfa_token": "Jm1b3Kx0n9m3w2f4l1C6sQdA7zVtYh8pRrE5uN0oWgI", "expires_in": 300, "methods": ["totp", "recovery_code"]}))]
#[expect(
    dead_code,
    reason = "a schema only: the answer is a `Problem` with `SecondStep`"
)]
pub struct MfaRequiredProblem {
    /// `/problems/mfa-required` (or `/problems/forbidden` for a user who cannot log in).
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
    /// For `POST /login/mfa`: bound to this user, used up by a success. Only on
    /// `/problems/mfa-required`.
    #[schema(required = false)]
    mfa_token: String,
    /// Seconds the `mfa_token` lives: 300.
    #[schema(required = false)]
    expires_in: u32,
    /// What `POST /login/mfa` takes: `totp` (`code`) and `recovery_code`.
    #[schema(required = false)]
    methods: Vec<String>,
}

/// The 403 of `POST /login`.
pub struct LoginForbidden;

impl<'r> ToResponse<'r> for LoginForbidden {
    fn response() -> (&'r str, RefOr<Response>) {
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("MfaRequiredProblem")))
            .build();
        let response = ResponseBuilder::new()
            .description(
                "The password is right but the user's status forbids a login (e.g. suspended); or a second factor is on: `/problems/mfa-required`, with the `mfa_token` to send to `POST /login/mfa` with a code within `expires_in` seconds.",
            )
            .content("application/problem+json", content)
            .header(
                "Cache-Control",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some("`no-store` when an `mfa_token` is sent"))
                    .build(),
            )
            .build();
        ("LoginForbidden", response.into())
    }
}

/// Throttled or unreachable data store.
pub struct ServiceUnavailable;

impl<'r> ToResponse<'r> for ServiceUnavailable {
    fn response() -> (&'r str, RefOr<Response>) {
        let retry_after = retry_after_header();
        let response = problem(
            "The data store is throttled or unreachable; retry after `Retry-After` seconds.",
        )
        .header("Retry-After", retry_after)
        .build();
        ("ServiceUnavailable", response.into())
    }
}

/// The problems whole kinds of operation share, added here once rather than on every route:
/// every operation but the documentation's can fail on the service's side (500, and 503 when
/// the store is throttled or unreachable), every one that reads a JSON body can refuse it
/// (400, 413, 422), and every one that needs a bearer token can be refused for want of one
/// (401), unless the route documents its own answer for that status. It also declares the
/// bearer scheme the protected operations name.
struct SharedProblems;

const SERVER_ERRORS: [(&str, &str); 2] = [("500", "InternalError"), ("503", "ServiceUnavailable")];
const BODY_ERRORS: [(&str, &str); 3] = [
    ("400", "BadRequest"),
    ("413", "PayloadTooLarge"),
    ("422", "ValidationFailed"),
];

impl Modify for SharedProblems {
    fn modify(&self, document: &mut Document) {
        let operations = document
            .paths
            .paths
            .values_mut()
            .flat_map(|item| {
                [
                    &mut item.get,
                    &mut item.put,
                    &mut item.post,
                    &mut item.delete,
                    &mut item.patch,
                ]
            })
            .filter_map(Option::as_mut);
        for operation in operations {
            let documentation = operation
                .tags
                .as_ref()
                .is_some_and(|tags| tags.iter().any(|tag| tag == DOCUMENTATION));
            if documentation {
                continue;
            }
            let body_errors = operation.request_body.is_some().then_some(BODY_ERRORS);
            let secured = operation
                .security
                .as_ref()
                .is_some_and(|security| !security.is_empty());
            let token_errors = secured.then_some([("401", "MissingToken")]);
            for (status, name) in SERVER_ERRORS
                .into_iter()
                .chain(body_errors.into_iter().flatten())
                .chain(token_errors.into_iter().flatten())
            {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| Ref::from_response_name(name).into());
            }
        }
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "An access token from `POST /login` or `POST /token/refresh`: an EdDSA-signed JWT, valid 15 minutes.",
            ))
            .build();
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

const DOCUMENTATION: &str = "Documentation";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "User service",
        description = "Users, orders and credentials, served by one AWS Lambda function per route. Every error is RFC 9457 problem JSON.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        users::create::create_user, users::get::get_user, users::list::list_users,
        users::email::update_user_email, users::email_confirm::confirm_email_change,
        users::lifecycle::suspend_user,
        users::lifecycle::activate_user, users::lifecycle::delete_user,
        users::lifecycle::record_login, users::role::change_user_role, orders::place::place_order,
        orders::get::get_order, orders::list::list_user_orders,
        credentials::reset::request_password_reset, credentials::reset::confirm_password_reset,
        credentials::login::login, credentials::session::refresh_token, credentials::session::logout,
        users::sessions::list_sessions, users::sessions::end_session,
        users::sessions::sign_out_everywhere, credentials::password::change_password,
        credentials::login::finish_login,
        users::mfa::start_totp_enrolment, users::mfa::confirm_totp_enrolment,
        users::mfa::replace_recovery_codes, users::mfa::remove_second_factor,
        users::passkeys::start_passkey_registration, users::passkeys::register_passkey,
        users::passkeys::list_passkeys, users::passkeys::remove_passkey,
        credentials::passkey::passkey_sign_in_options, credentials::passkey::passkey_sign_in,
        jwks::jwks, documentation::openapi_document, documentation::docs_page,
        documentation::passkey_page,
    ),
    components(
        schemas(Problem, FieldError, UserBody, OrderBody, OrderLineBody, MoneyBody, MfaRequiredProblem),
        responses(BadRequest, InvalidToken, Unauthorized, MissingToken, InvalidRefreshToken, Forbidden, TooManyAttempts,
            LoginForbidden, InvalidSecondFactor, InvalidPasskey,
            NotFound, Conflict, PreconditionFailed, PayloadTooLarge, ValidationFailed, InternalError,
            ServiceUnavailable),
    ),
    modifiers(&SharedProblems),
    tags(
        (name = "Users", description = "Registration, reading, listing and the user's lifecycle"),
        (name = "Orders", description = "Orders with exact money"),
        (name = "Credentials", description = "Password reset by email, login and sessions"),
        (name = "Sessions", description = "Where a user is signed in, and ending it"),
        (name = "Second factors", description = "TOTP and recovery codes: turning two-step sign-in on and off, and managing it"),
        (name = "Passkeys", description = "WebAuthn passkeys: registering, listing and removing them (signing in with one is under Credentials)"),
        (name = DOCUMENTATION, description = "This document, its viewer, and the keys that verify access tokens"),
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
    fn every_operation_states_the_server_problems_and_every_body_the_body_problems() {
        let document: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        let mut checked = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                if operation["tags"][0] == DOCUMENTATION {
                    continue;
                }
                let responses = &operation["responses"];
                let mut expected = vec!["500", "503"];
                if operation.get("requestBody").is_some() {
                    expected.extend(["400", "413", "422"]);
                }
                if operation.get("security").is_some() {
                    expected.push("401");
                }
                for status in expected {
                    assert!(
                        responses[status]["$ref"].is_string(),
                        "{method} {path} lacks {status}"
                    );
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 33);
    }

    #[test]
    fn the_document_is_openapi_3_1_with_every_problem_response_as_problem_json() {
        let document: serde_json::Value = serde_json::from_str(&document_json()).unwrap();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
        let responses = document["components"]["responses"].as_object().unwrap();
        assert!(responses.len() >= 10);
        for (name, response) in responses {
            let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
            // The login's 403 is a problem with the extension members of mfa-required.
            let expected = if name == "LoginForbidden" {
                "#/components/schemas/MfaRequiredProblem"
            } else {
                "#/components/schemas/Problem"
            };
            assert_eq!(schema, expected, "{name}");
        }
    }
}
