//! Handler tests without the local stack: requests built in memory, run against use cases
//! over the application's fakes, and the rows of API.md's status table that many routes share.

use crate::HandlerResult;
use crate::auth::Authentication;
use crate::request::MAX_BODY_BYTES;
use application::fakes::{InMemoryUsers, caller_with};
use application::ports::AccessClaims;
use application::{AdminMfa, Caller};
use domain::{Role, User, UserId};
use lambda_http::http::{HeaderMap, header};
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;

/// A request as API Gateway hands it over: method, path parameters, query, headers, body,
/// and what `serve` made of its bearer token (an administrator's, unless a test says).
pub struct TestRequest {
    builder: lambda_http::http::request::Builder,
    path: HashMap<String, String>,
    query: HashMap<String, Vec<String>>,
    body: Body,
    /// `None`: an administrator's (see `build` and `build_in`).
    authentication: Option<Authentication>,
    /// The stack's admin MFA setting: `Optional`, as in the local stack, unless a test says.
    admin_mfa: AdminMfa,
}

/// The claims of an administrator's token, whose account no store holds: enough for the
/// checks made before anything is read, refused (401) by a use case that reads the account.
pub fn admin() -> Authentication {
    claims_of(caller_with(UserId::generate(), Role::Admin))
}

/// The claims of `user`'s own token, in a session no store holds (see `admin`).
pub fn token_of(user: &User) -> Authentication {
    claims_of(caller_with(user.id(), user.role()))
}

/// The claims of a new administrator stored in `users`, signed in.
pub fn admin_of(users: &InMemoryUsers) -> Authentication {
    claims_of(users.admin_caller())
}

/// The claims of `user` (stored in `users`) signed in.
pub fn signed_in(users: &InMemoryUsers, user: &User) -> Authentication {
    claims_of(users.sign_in(user))
}

pub fn claims_of(caller: Caller) -> Authentication {
    match caller {
        Caller::User { id, role, proof } => Authentication::Bearer(AccessClaims {
            user_id: id,
            role,
            proof,
        }),
        Caller::Anonymous => Authentication::Anonymous,
    }
}

impl TestRequest {
    pub fn new(method: &str, uri: &str) -> Self {
        Self {
            builder: lambda_http::http::Request::builder()
                .method(method)
                .uri(uri),
            path: HashMap::new(),
            query: HashMap::new(),
            body: Body::Empty,
            authentication: None,
            admin_mfa: AdminMfa::Optional,
        }
    }

    /// The request as served by a stack with this admin MFA setting.
    pub fn admin_mfa(mut self, setting: AdminMfa) -> Self {
        self.admin_mfa = setting;
        self
    }

    /// The request as sent with this authentication instead.
    pub fn by(mut self, authentication: Authentication) -> Self {
        self.authentication = Some(authentication);
        self
    }

    pub fn path(mut self, name: &str, value: impl ToString) -> Self {
        self.path.insert(name.to_owned(), value.to_string());
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query
            .entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    /// A JSON body with its content type.
    pub fn json(self, body: Value) -> Self {
        self.header("content-type", "application/json")
            .body(&body.to_string())
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = Body::from(body.to_owned());
        self
    }

    /// The request; unless `by` said otherwise, by an administrator no store holds (see
    /// `admin`).
    pub fn build(self) -> Request {
        let authentication = self.authentication.unwrap_or_else(admin);
        self.build_by(authentication)
    }

    /// The request; unless `by` said otherwise, by an administrator stored in `users` (the
    /// same one for every request of a test).
    pub fn build_in(self, users: &InMemoryUsers) -> Request {
        let authentication = self
            .authentication
            .unwrap_or_else(|| claims_of(users.admin_caller_once()));
        self.build_by(authentication)
    }

    fn build_by(self, authentication: Authentication) -> Request {
        let query: HashMap<String, Vec<String>> = self.query;
        let mut request = self
            .builder
            .body(self.body)
            .unwrap()
            .with_path_parameters(self.path)
            .with_query_string_parameters(query);
        request.extensions_mut().insert(authentication);
        request.extensions_mut().insert(self.admin_mfa);
        request
    }
}

/// A handler's answer, read back as a client would see it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn of(result: HandlerResult) -> Self {
        let response = result.unwrap_or_else(crate::Problem::into_response);
        let body = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts problem JSON with this status; returns its `detail`.
    pub fn problem(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["type"].is_string() && self.body["title"].is_string());
        self.body["detail"].as_str().unwrap()
    }

    /// Asserts a 422 and returns the fields it names, in order.
    pub fn invalid_fields(&self) -> Vec<&str> {
        self.problem(422);
        self.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|error| error["field"].as_str().unwrap())
            .collect()
    }

    /// Asserts a 503 that says when to retry.
    pub fn unavailable(&self) {
        self.problem(503);
        assert_eq!(self.header("retry-after"), Some("1"));
    }

    /// Asserts a 500 that tells nothing of its cause.
    pub fn internal(&self) {
        let detail = self.problem(500);
        assert_eq!(detail, "something failed on our side; it has been logged");
        let text = self.body.to_string();
        assert!(
            !text.contains("arn:") && !text.contains("AccessDenied"),
            "{text}"
        );
    }
}

/// The body rows of a route that reads a JSON object: 400 without the JSON content type, for
/// malformed JSON and for a non-object; 413 over 64 KiB; 422 naming every required field and
/// every unknown one when the object is empty but for an unknown field.
pub async fn assert_body_rows<F, Fut>(
    request: impl Fn() -> TestRequest,
    handle: F,
    required: &[&str],
) where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    let answer = |result| Answer::of(result);
    let no_content_type = request().body("{}").build();
    answer(handle(no_content_type).await).problem(400);
    for not_an_object in ["{", "[1]", "\"text\"", ""] {
        let sent = request()
            .header("content-type", "application/json")
            .body(not_an_object)
            .build();
        answer(handle(sent).await).problem(400);
    }
    let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(MAX_BODY_BYTES));
    let too_large = request()
        .header(header::CONTENT_TYPE.as_str(), "application/json")
        .body(&huge)
        .build();
    answer(handle(too_large).await).problem(413);

    let unknown_only = request()
        .json(serde_json::json!({"unexpected": true}))
        .build();
    let answered = answer(handle(unknown_only).await);
    let mut expected: Vec<&str> = required.to_vec();
    expected.push("unexpected");
    assert_eq!(answered.invalid_fields(), expected);
}

/// The authentication rows of a protected route: no token and a refused token are 401 with
/// their challenge; for "self or admin" another user's token is the 404 of an unknown id, and
/// for an admin route any user's token is a 403. `request` is a valid request of the route
/// about `owner`, so only the authentication differs; `admin_only` says which policy it has.
pub async fn assert_authentication_rows<F, Fut>(
    request: impl Fn() -> TestRequest,
    handle: F,
    owner: &User,
    admin_only: bool,
) where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = HandlerResult>,
{
    // Authentication comes before the body: a broken body changes nothing here.
    let broken =
        Answer::of(handle(request().by(Authentication::Anonymous).body("{").build()).await);
    broken.problem(401);
    let anonymous = Answer::of(handle(request().by(Authentication::Anonymous).build()).await);
    anonymous.problem(401);
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
    let refused = Answer::of(handle(request().by(Authentication::Refused).build()).await);
    refused.problem(401);
    assert_eq!(
        refused.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    let stranger = claims_of(caller_with(UserId::generate(), Role::User));
    let broken = Answer::of(handle(request().by(stranger).body("{").build()).await);
    broken.problem(if admin_only { 403 } else { 404 });
    let answer = Answer::of(handle(request().by(stranger).build()).await);
    if admin_only {
        answer.problem(403);
        let own = Answer::of(handle(request().by(token_of(owner)).build()).await);
        own.problem(403);
    } else {
        assert_eq!(answer.problem(404), "no user with this id");
    }
}
