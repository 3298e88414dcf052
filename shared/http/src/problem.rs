use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The path of the field in the request: `email`, `items[2].unit_price.amount`, `limit`.
    #[schema(example = "email")]
    pub field: String,
    /// What is wrong with it, for people.
    #[schema(example = "must contain exactly one '@'")]
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl ToString) -> Self {
        Self {
            field: field.into(),
            message: message.to_string(),
        }
    }
}

/// An RFC 9457 problem: what went wrong, in words a client can act on, and nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({"type": "/problems/not-found", "title": "Not found", "status": 404, "detail": "no user with this id"}))]
pub struct Problem {
    /// A relative URI naming the kind of problem, e.g. `/problems/validation-failed`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    #[serde(serialize_with = "as_u16")]
    #[schema(value_type = u16, example = 404)]
    pub status: StatusCode,
    pub detail: String,
    /// Every failing field; present on validation failures (422) only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub errors: Vec<FieldError>,
    /// Seconds; sent as the `Retry-After` header, not in the body.
    #[serde(skip)]
    pub retry_after: Option<u32>,
    /// The `WWW-Authenticate` challenge of a 401 for a missing or refused access token.
    #[serde(skip)]
    pub challenge: Option<BearerChallenge>,
    /// The extension members of `POST /login`'s `/problems/mfa-required`; documented by
    /// `MfaRequiredProblem`.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub second_step: Option<Box<SecondStep>>,
}

/// The `WWW-Authenticate` of a 401 (RFC 6750): no token sent, or one that is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerChallenge {
    Missing,
    InvalidToken,
}

impl BearerChallenge {
    fn header(self) -> &'static str {
        match self {
            Self::Missing => "Bearer",
            Self::InvalidToken => r#"Bearer error="invalid_token""#,
        }
    }
}

/// How a login whose password was right goes on: with a code and this token.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct SecondStep {
    pub mfa_token: String,
    /// Seconds the token lives.
    pub expires_in: i64,
    pub methods: [&'static str; 2],
}

/// The token is a secret: it never shows in a log line.
impl std::fmt::Debug for SecondStep {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SecondStep")
            .field("mfa_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

fn as_u16<S: serde::Serializer>(status: &StatusCode, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u16(status.as_u16())
}

impl Problem {
    fn new(status: StatusCode, slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("/problems/{slug}"),
            title,
            status,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            challenge: None,
            second_step: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.len() {
            1 => "1 field is invalid".to_owned(),
            n => format!("{n} fields are invalid"),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation-failed",
                "Validation failed",
                detail,
            )
        }
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn user_not_found() -> Self {
        Self::not_found("no user with this id")
    }

    pub fn order_not_found() -> Self {
        Self::not_found("no order with this id for this user")
    }

    pub fn session_not_found() -> Self {
        Self::not_found("no live session with this id for this user")
    }

    pub fn conflict(slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, slug, title, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
    }

    /// 401 for a route that needs an access token: none was sent, or the one sent is not
    /// valid (`invalid_token`, RFC 6750). One detail for every reason a token fails.
    pub fn missing_token(sent: bool) -> Self {
        let (challenge, detail) = if sent {
            (
                BearerChallenge::InvalidToken,
                "the access token is invalid or expired; log in or refresh",
            )
        } else {
            (
                BearerChallenge::Missing,
                "this route needs an access token: Authorization: Bearer <token>",
            )
        };
        Self {
            challenge: Some(challenge),
            ..Self::unauthorized(detail)
        }
    }

    pub fn unprocessable(slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, slug, title, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// A 403 with a type of its own (`/problems/<slug>`), for refusals a client acts on.
    pub fn forbidden_as(slug: &str, title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, slug, title, detail)
    }

    /// 403 `/problems/mfa-required`: a second factor is missing. From `POST /login`, with the
    /// token to finish the login with; from an admin route, without.
    pub fn mfa_required(detail: impl Into<String>, second_step: Option<SecondStep>) -> Self {
        Self {
            second_step: second_step.map(Box::new),
            ..Self::forbidden_as("mfa-required", "Second factor required", detail)
        }
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            format!("the request body must be at most {} KiB", limit / 1024),
        )
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
            "Precondition failed",
            "the resource has changed since the version named in If-Match; fetch it again",
        )
    }

    /// 429 for an address locked by failed logins; `retry_after` in seconds.
    pub fn too_many_attempts(retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-attempts",
                "Too many attempts",
                "too many failed logins for this address; retry after the time in Retry-After",
            )
        }
    }

    pub fn service_unavailable(retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service-unavailable",
                "Service unavailable",
                "the service is busy; retry after the time in Retry-After",
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal-error",
            "Internal server error",
            "something failed on our side; it has been logged",
        )
    }

    pub fn into_response(self) -> Response<Body> {
        // Serializing strings and numbers cannot fail; an empty body is the safe fallback.
        let body = serde_json::to_string(&self).unwrap_or_default();
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
        );
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge.header()),
            );
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.second_step.is_some() {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_problem_lists_its_fields_in_problem_json() {
        let response = Problem::validation(vec![FieldError::new("email", "must not be empty")])
            .into_response();
        assert_eq!(response.status(), 422);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            PROBLEM_CONTENT_TYPE
        );
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "/problems/validation-failed",
                "title": "Validation failed",
                "status": 422,
                "detail": "1 field is invalid",
                "errors": [{"field": "email", "message": "must not be empty"}],
            })
        );
    }

    #[test]
    fn other_problems_carry_no_errors_member() {
        let body: serde_json::Value =
            serde_json::from_slice(Problem::user_not_found().into_response().body()).unwrap();
        assert!(body.get("errors").is_none());
        assert_eq!(body["status"], 404);
    }

    #[test]
    fn service_unavailable_says_when_to_retry() {
        let response = Problem::service_unavailable(2).into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
