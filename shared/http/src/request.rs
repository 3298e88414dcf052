//! Turning a request into typed values: the body into fields, the path into an id, headers
//! into preconditions. Each failure is already the problem the client should see.

use crate::{FieldError, Problem};
use application::ports::{Cursor, IfMatch, PageLimit};
use domain::{OrderId, UserId, Version};
use lambda_http::http::header;
use lambda_http::{Request, RequestExt};
use serde_json::{Map, Value};
use std::fmt::Display;
use utoipa::{IntoParams, ToSchema};

/// Larger bodies are refused before they are parsed.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON object body, read field by field. Every failing field is collected, with its path
/// (`items[2].unit_price.amount`), so one 422 names them all; fields nobody asked for are
/// failures too.
#[derive(Debug)]
pub struct JsonObject {
    fields: Map<String, Value>,
    path: String,
    errors: Vec<FieldError>,
}

impl JsonObject {
    pub fn from_request(request: &Request) -> Result<Self, Problem> {
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Err(Problem::payload_too_large(MAX_BODY_BYTES));
        }
        if !has_json_content_type(request) {
            return Err(Problem::bad_request(
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => Ok(Self {
                fields,
                path: String::new(),
                errors: Vec::new(),
            }),
            Ok(_) => Err(Problem::bad_request("the body must be a JSON object")),
            Err(_) => Err(Problem::bad_request("the body is not valid JSON")),
        }
    }

    /// The path of one of this object's fields.
    fn at(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Records a failure of one of this object's fields.
    pub fn fail(&mut self, name: &str, message: impl ToString) {
        let path = self.at(name);
        self.errors.push(FieldError::new(path, message));
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        let value = self.fields.remove(name);
        if value.is_none() {
            self.fail(name, "is required");
        }
        value
    }

    /// A required string field, parsed by `parse`; `None` after recording why it failed.
    pub fn string<T, E: Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match self.take(name)? {
            Value::String(raw) => parse(&raw).map_err(|error| self.fail(name, error)).ok(),
            _ => {
                self.fail(name, "must be a string");
                None
            }
        }
    }

    /// An optional string field: `Some(None)` when absent, `None` after recording why a
    /// present one failed.
    pub fn optional_string<T, E: Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        if !self.fields.contains_key(name) {
            return Some(None);
        }
        self.string(name, parse).map(Some)
    }

    /// A required whole-number field, parsed by `parse`.
    pub fn integer<T, E: Display>(
        &mut self,
        name: &str,
        parse: impl FnOnce(i64) -> Result<T, E>,
    ) -> Option<T> {
        let value = self.take(name)?;
        match value.as_i64() {
            Some(number) => parse(number).map_err(|error| self.fail(name, error)).ok(),
            None => {
                self.fail(name, "must be a whole number");
                None
            }
        }
    }

    /// A required object field taken whole, as JSON text, for a reader beyond this edge (a
    /// WebAuthn credential, whose members the relying party checks).
    pub fn opaque_object(&mut self, name: &str) -> Option<String> {
        match self.take(name)? {
            value @ Value::Object(_) => Some(value.to_string()),
            _ => {
                self.fail(name, "must be an object");
                None
            }
        }
    }

    /// A required object field, read by `read`.
    pub fn object<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut JsonObject) -> Option<T>,
    ) -> Option<T> {
        let value = self.take(name)?;
        let path = self.at(name);
        self.nested(path, value, read)
    }

    /// A required array field of `min..=max` objects, each read by `read`; `None` if any fails.
    pub fn array<T>(
        &mut self,
        name: &str,
        bounds: std::ops::RangeInclusive<usize>,
        mut read: impl FnMut(&mut JsonObject) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Value::Array(elements) = self.take(name)? else {
            self.fail(name, "must be an array");
            return None;
        };
        if !bounds.contains(&elements.len()) {
            self.fail(
                name,
                format!("must have {} to {} entries", bounds.start(), bounds.end()),
            );
            return None;
        }
        let path = self.at(name);
        let read_all: Vec<Option<T>> = elements
            .into_iter()
            .enumerate()
            .map(|(index, element)| self.nested(format!("{path}[{index}]"), element, &mut read))
            .collect();
        read_all.into_iter().collect()
    }

    fn nested<T>(
        &mut self,
        path: String,
        value: Value,
        read: impl FnOnce(&mut JsonObject) -> Option<T>,
    ) -> Option<T> {
        let Value::Object(fields) = value else {
            self.errors.push(FieldError::new(path, "must be an object"));
            return None;
        };
        let mut child = JsonObject {
            fields,
            path,
            errors: Vec::new(),
        };
        let value = read(&mut child);
        self.errors.extend(child.into_errors());
        value
    }

    /// The failures so far, then one for each field nobody read.
    fn into_errors(self) -> Vec<FieldError> {
        let mut errors = self.errors;
        let mut unknown: Vec<&String> = self.fields.keys().collect();
        unknown.sort();
        for field in unknown {
            let path = if self.path.is_empty() {
                field.clone()
            } else {
                format!("{}.{field}", self.path)
            };
            errors.push(FieldError::new(path, "is not a known field"));
        }
        errors
    }

    /// Ends reading: `Ok` with the parsed fields if every field was valid and none was
    /// unknown, else the 422 that lists every failure.
    pub fn finish<T>(self, parsed: Option<T>) -> Result<T, Problem> {
        let errors = self.into_errors();
        match parsed {
            Some(value) if errors.is_empty() => Ok(value),
            _ => Err(Problem::validation(errors)),
        }
    }
}

fn has_json_content_type(request: &Request) -> bool {
    let Some(value) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media_type = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media_type == "application/json"
        || (media_type.starts_with("application/") && media_type.ends_with("+json"))
}

/// The `{id}` of every `/users/{id}...` route. An id that is not well formed is as unknown as
/// any other: a 404. (The pattern is the canonical UUIDv7 the service issues.)
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// The user's id
    #[param(value_type = String, format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub id: UserId,
}

impl UserPath {
    pub fn read(request: &Request) -> Result<Self, Problem> {
        let id = path_parameter(request, "id")
            .and_then(|raw| UserId::parse(raw).ok())
            .ok_or_else(Problem::user_not_found)?;
        Ok(Self { id })
    }
}

/// The `{order_id}` of `/users/{id}/orders/{order_id}`, with the same rule.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrderIdPath {
    /// The order's id
    #[param(value_type = String, format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub order_id: OrderId,
}

impl OrderIdPath {
    pub fn read(request: &Request) -> Result<Self, Problem> {
        let order_id = path_parameter(request, "order_id")
            .and_then(|raw| OrderId::parse(raw).ok())
            .ok_or_else(Problem::order_not_found)?;
        Ok(Self { order_id })
    }
}

/// The body of a step-up route that takes nothing else: `{}` or `{"current_password"}`.
#[derive(ToSchema)]
#[schema(example = json!({"current_password": "correct horse battery"}))]
#[serde(deny_unknown_fields)]
pub struct StepUpBody {
    /// Step-up: the current password, unless the access token's sign-in is less than 5
    /// minutes old. Send `{}` then.
    #[schema(format = Password)]
    pub current_password: Option<String>,
}

impl StepUpBody {
    pub fn read(request: &Request) -> Result<Self, Problem> {
        let mut body = JsonObject::from_request(request)?;
        let current_password = body.optional_string("current_password", verbatim);
        let current_password = body.finish(current_password)?;
        Ok(Self { current_password })
    }

    /// As `read`, for a route whose body may be left out altogether (a DELETE).
    pub fn read_optional(request: &Request) -> Result<Self, Problem> {
        if request.body().as_ref().is_empty() {
            return Ok(Self {
                current_password: None,
            });
        }
        Self::read(request)
    }
}

/// The `{passkey_id}` of `/users/{id}/passkeys/{passkey_id}`, with the same rule.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PasskeyIdPath {
    /// The passkey's id
    #[param(value_type = String, format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub passkey_id: domain::PasskeyId,
}

impl PasskeyIdPath {
    pub fn read(request: &Request) -> Result<Self, Problem> {
        let passkey_id = path_parameter(request, "passkey_id")
            .and_then(|raw| domain::PasskeyId::parse(raw).ok())
            .ok_or_else(|| Problem::not_found("no passkey with this id"))?;
        Ok(Self { passkey_id })
    }
}

/// The `{session_id}` of `/users/{id}/sessions/{session_id}`, with the same rule.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SessionIdPath {
    /// The session's id (the `sid` claim of its access tokens)
    #[param(value_type = String, format = "uuid", pattern = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    pub session_id: domain::SessionId,
}

impl SessionIdPath {
    pub fn read(request: &Request) -> Result<Self, Problem> {
        let session_id = path_parameter(request, "session_id")
            .and_then(|raw| domain::SessionId::parse(raw).ok())
            .ok_or_else(Problem::session_not_found)?;
        Ok(Self { session_id })
    }
}

fn path_parameter<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .path_parameters_ref()
        .and_then(|params| params.first(name))
}

/// `limit` and `cursor` of a listing.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size
    #[param(value_type = Option<u8>, minimum = 1, maximum = 100)]
    pub limit: PageLimit,
    /// `next_cursor` of the previous page, unchanged
    #[param(value_type = Option<String>)]
    pub cursor: Option<Cursor>,
}

impl PageQuery {
    /// The page asked for; `None` after recording in `errors` what is wrong with it.
    pub fn read(request: &Request, errors: &mut Vec<FieldError>) -> Option<Self> {
        let limit = match single_query_value(request, "limit", errors) {
            None => Some(PageLimit::DEFAULT),
            Some(raw) => PageLimit::parse(&raw)
                .map_err(|error| errors.push(FieldError::new("limit", error)))
                .ok(),
        };
        let cursor = single_query_value(request, "cursor", errors).map(Cursor::new);
        Some(Self {
            limit: limit?,
            cursor,
        })
    }
}

/// The `If-Match` precondition of a change to a user.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// The ETag the change applies to; `*` for any
    #[param(rename = "If-Match", value_type = Option<String>)]
    pub if_match: Option<IfMatch>,
}

impl IfMatchHeader {
    pub fn read(request: &Request) -> Self {
        Self {
            if_match: if_match(request),
        }
    }
}

/// The `If-Match` precondition, if the client sent one. Our ETags are strong (`"7"`), so weak
/// or unreadable tags match nothing, and a header of only those always fails.
fn if_match(request: &Request) -> Option<IfMatch> {
    let values: Vec<&str> = request
        .headers()
        .get_all(header::IF_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    if values.is_empty() {
        return None;
    }
    let tags: Vec<&str> = values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    if tags.contains(&"*") {
        return Some(IfMatch::Any);
    }
    let versions = tags
        .iter()
        .filter_map(|tag| tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok())
        .map(Version::new)
        .collect();
    Some(IfMatch::OneOf(versions))
}

/// A string field taken as sent: no trimming, any length the body allows.
pub fn verbatim(raw: &str) -> Result<String, std::convert::Infallible> {
    Ok(raw.to_owned())
}

/// A query-string parameter that appears at most once; a repeated one is a field error.
pub fn single_query_value(
    request: &Request,
    name: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let params = request.query_string_parameters_ref()?;
    let values = params.all(name)?;
    match values.as_slice() {
        [value] => Some((*value).to_owned()),
        _ => {
            errors.push(FieldError::new(name, "must be given at most once"));
            None
        }
    }
}

/// Where a sign-in comes from: the client's `User-Agent` (cut to what a session keeps) and
/// the source address API Gateway saw.
pub(crate) fn session_origin(request: &Request) -> application::ports::SessionOrigin {
    let user_agent = request
        .headers()
        .get(lambda_http::http::header::USER_AGENT)
        .and_then(|value| value.to_str().ok());
    let ip = crate::runtime::source_ip_of(request);
    application::ports::SessionOrigin::new(user_agent, ip.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;
    use lambda_http::http::Request as HttpRequest;

    fn post(content_type: Option<&str>, body: &str) -> Request {
        let mut builder = HttpRequest::builder().method("POST").uri("/users");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body.to_owned())).unwrap()
    }

    fn status_of(result: Result<JsonObject, Problem>) -> u16 {
        result
            .map(|_| 200)
            .unwrap_or_else(|problem| problem.status.as_u16())
    }

    #[test]
    fn a_json_object_with_a_json_content_type_is_read() {
        assert_eq!(
            status_of(JsonObject::from_request(&post(
                Some("application/json"),
                "{}"
            ))),
            200
        );
        let charset = post(Some("Application/JSON; charset=utf-8"), "{}");
        assert_eq!(status_of(JsonObject::from_request(&charset)), 200);
    }

    #[test]
    fn a_missing_content_type_bad_json_or_a_non_object_is_a_400() {
        assert_eq!(status_of(JsonObject::from_request(&post(None, "{}"))), 400);
        assert_eq!(
            status_of(JsonObject::from_request(&post(Some("text/plain"), "{}"))),
            400
        );
        assert_eq!(
            status_of(JsonObject::from_request(&post(
                Some("application/json"),
                "{"
            ))),
            400
        );
        assert_eq!(
            status_of(JsonObject::from_request(&post(
                Some("application/json"),
                "[1]"
            ))),
            400
        );
        assert_eq!(
            status_of(JsonObject::from_request(&post(
                Some("application/json"),
                ""
            ))),
            400
        );
    }

    #[test]
    fn a_body_that_is_not_utf8_is_a_400_not_a_failure() {
        // API Gateway hands such a body over base64-encoded; lambda_http decodes it to bytes.
        let request = HttpRequest::builder()
            .method("POST")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Binary(vec![0xff, 0xfe, b'{', 0x80]))
            .unwrap();
        assert_eq!(status_of(JsonObject::from_request(&request)), 400);
    }

    #[test]
    fn a_body_over_64_kib_is_a_413_even_without_a_content_type() {
        let big = format!("{{\"name\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(status_of(JsonObject::from_request(&post(None, &big))), 413);
    }

    #[test]
    fn every_failing_and_unknown_field_is_listed() {
        let request = post(
            Some("application/json"),
            r#"{"email": 5, "admin": true, "zzz": 1}"#,
        );
        let mut body = JsonObject::from_request(&request).unwrap();
        let email = body.string("email", |raw| Ok::<_, String>(raw.to_owned()));
        let name = body.string("name", |raw| Ok::<_, String>(raw.to_owned()));
        let problem = body.finish(email.zip(name)).unwrap_err();
        let fields: Vec<(&str, &str)> = problem
            .errors
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("email", "must be a string"),
                ("name", "is required"),
                ("admin", "is not a known field"),
                ("zzz", "is not a known field"),
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn any_body_and_content_type_is_read_or_refused_with_400_or_413_never_a_panic(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            content_type in proptest::option::of("application/json|text/plain|application/problem\\+json|\\PC{0,20}"),
        ) {
            let mut builder = HttpRequest::builder().method("POST").uri("/users");
            if let Some(content_type) = &content_type {
                builder = builder.header(header::CONTENT_TYPE, content_type.as_str());
            }
            let request = builder.body(Body::Binary(body)).unwrap();
            let status = status_of(JsonObject::from_request(&request));
            proptest::prop_assert!([200, 400, 413].contains(&status), "{status}");
        }

        #[test]
        fn any_json_object_gives_every_field_its_verdict(
            fields in proptest::collection::btree_map("[a-z_]{1,8}", proptest::prelude::any::<Option<i32>>(), 0..6),
        ) {
            let object: serde_json::Map<String, serde_json::Value> =
                fields.iter().map(|(name, value)| (name.clone(), serde_json::json!(value))).collect();
            let request = post(Some("application/json"), &serde_json::Value::Object(object).to_string());
            let mut body = JsonObject::from_request(&request).unwrap();
            let email = body.string("email", |raw| Ok::<_, String>(raw.to_owned()));
            match body.finish(email) {
                Ok(_) => proptest::prop_assert!(false, "email is never a string here"),
                Err(problem) => {
                    proptest::prop_assert_eq!(problem.status.as_u16(), 422);
                    let named: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
                    proptest::prop_assert!(named.contains(&"email"));
                    for field in fields.keys().filter(|field| *field != "email") {
                        proptest::prop_assert!(named.contains(&field.as_str()), "{field} is unknown and must be named");
                    }
                }
            }
        }

        #[test]
        fn if_match_never_panics_and_reads_every_strong_tag(raw in "\\PC{0,40}", version in proptest::prelude::any::<u64>()) {
            let header_value = |value: &str| HttpRequest::builder().header(header::IF_MATCH, value).body(Body::Empty).unwrap();
            if lambda_http::http::HeaderValue::from_str(&raw).is_ok() {
                let _ = if_match(&header_value(&raw));
            }
            let strong = format!("\"{version}\"");
            proptest::prop_assert_eq!(if_match(&header_value(&strong)), Some(IfMatch::OneOf(vec![Version::new(version)])));
        }
    }

    #[test]
    fn if_match_reads_strong_tags_and_star() {
        let with = |value: &str| {
            HttpRequest::builder()
                .header(header::IF_MATCH, value)
                .body(Body::Empty)
                .unwrap()
        };
        assert_eq!(
            if_match(&with("\"3\"")),
            Some(IfMatch::OneOf(vec![Version::new(3)]))
        );
        assert_eq!(
            if_match(&with("\"1\", \"4\"")),
            Some(IfMatch::OneOf(vec![Version::new(1), Version::new(4)]))
        );
        assert_eq!(if_match(&with("*")), Some(IfMatch::Any));
        assert_eq!(if_match(&with("W/\"3\"")), Some(IfMatch::OneOf(vec![])));
        assert_eq!(
            if_match(&HttpRequest::builder().body(Body::Empty).unwrap()),
            None
        );
    }
}
