//! Helpers for tests against the running local stack (`make test` starts it): the API behind
//! `cargo lambda watch`, and the local SES mailbox.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

pub use bench::authenticator;
pub mod events;
pub mod function;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;

pub fn api_url() -> String {
    std::env::var("API_URL").unwrap_or_else(|_| "http://127.0.0.1:9000".to_owned())
}

pub fn ses_url() -> String {
    std::env::var("SES_URL").unwrap_or_else(|_| "http://127.0.0.1:8005".to_owned())
}

/// An address nobody else uses, so tests sharing the table never collide.
pub fn unique_email(who: &str) -> String {
    format!("{who}.{}@example.com", uuid::Uuid::new_v4().simple())
}

/// How long a test waits for any one answer of the local stack. Far above the slowest real one
/// (a function's first start, or a request held by a frozen DynamoDB), so that a function that
/// never answers fails its test instead of hanging the run.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// An HTTP client that gives up after [`ANSWER_WITHIN`]. One per use: a client's connections
/// belong to the runtime of the test that made it.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .build()
        .expect("an HTTP client")
}

/// What a test says when the local stack did not answer.
fn no_answer(what: &str, error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!(
            "{what} did not answer within {} s ({error}); the end of .devstack/run/api.log \
             says why (e.g. a function that could not start on a full disk)",
            ANSWER_WITHIN.as_secs()
        )
    } else {
        format!("{what} is not reachable ({error}): `make test` starts it")
    }
}

/// A client of the API, calling as someone: the local admin unless a test says otherwise, so
/// tests about a route's behaviour are not about who may call it.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    identity: Identity,
}

#[derive(Clone)]
enum Identity {
    Admin,
    Anonymous,
    Bearer(String),
}

/// The local admin (`make test` makes sure it exists), as API.md names it.
pub fn local_admin() -> (String, String) {
    let variable =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    (
        variable("LOCAL_ADMIN_EMAIL", "admin@example.com"),
        variable("LOCAL_ADMIN_PASSWORD", "local-admin-password"),
    )
}

/// The admin's access token, from one login per test binary.
async fn admin_token() -> String {
    static TOKEN: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TOKEN
        .get_or_init(|| async {
            let (email, password) = local_admin();
            let response = http_client()
                .post(format!("{}/login", api_url()))
                .json(&serde_json::json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap_or_else(|error| panic!("{}", no_answer("the API", &error)));
            let reply = read(response).await;
            assert_eq!(reply.status, 200, "the local admin logs in: {}", reply.body);
            reply.body["access_token"].as_str().unwrap().to_owned()
        })
        .await
        .clone()
}

/// A response read whole: status, headers and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The reply must be problem JSON with this status; returns the problem.
    pub fn expect_problem(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status);
        for member in ["type", "title", "detail"] {
            assert!(
                self.body[member].is_string(),
                "problem without {member}: {}",
                self.body
            );
        }
        &self.body
    }

    /// The reply must be a user with this status code, carrying an ETag; returns the user.
    pub fn expect_user(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert!(
            self.header("etag").is_some_and(|tag| tag.starts_with('"')),
            "no ETag"
        );
        &self.body
    }
}

impl Default for Api {
    fn default() -> Self {
        Self::calling_as(Identity::Admin)
    }
}

impl Api {
    fn calling_as(identity: Identity) -> Self {
        Self {
            client: http_client(),
            identity,
        }
    }

    /// A client that sends no token.
    pub fn anonymous() -> Self {
        Self::calling_as(Identity::Anonymous)
    }

    /// A client that sends this access token.
    pub fn with_token(token: &str) -> Self {
        Self::calling_as(Identity::Bearer(token.to_owned()))
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", api_url()))
    }

    /// Sends `request` with this client's token, unless it carries an `Authorization` already.
    pub async fn send(&self, request: RequestBuilder) -> Reply {
        let mut request = request.build().expect("a well-formed request");
        let token = match &self.identity {
            Identity::Admin => Some(admin_token().await),
            Identity::Anonymous => None,
            Identity::Bearer(token) => Some(token.clone()),
        };
        if let Some(token) = token
            && !request
                .headers()
                .contains_key(reqwest::header::AUTHORIZATION)
        {
            let value = format!("Bearer {token}").parse().expect("a header value");
            request
                .headers_mut()
                .insert(reqwest::header::AUTHORIZATION, value);
        }
        read(
            self.client
                .execute(request)
                .await
                .unwrap_or_else(|error| panic!("{}", no_answer("the API", &error))),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str) -> Reply {
        self.send(self.request(Method::POST, path)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn send_json(&self, method: Method, path: &str, body: &Value) -> Reply {
        self.send(self.request(method, path).json(body)).await
    }

    /// Registers a user and returns its JSON.
    pub async fn create_user(&self, email: &str, name: &str) -> Value {
        let reply = self
            .send_json(
                Method::POST,
                "/users",
                &serde_json::json!({"email": email, "name": name}),
            )
            .await;
        reply.expect_user(201).clone()
    }
}

async fn read(response: Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a readable body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The emails the local SES holds, as JSON.
async fn stored_emails() -> Vec<Value> {
    let store: Value = http_client()
        .get(format!("{}/store", ses_url()))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{}", no_answer("the local SES", &error)))
        .json()
        .await
        .expect("the store is JSON");
    store["emails"].as_array().cloned().unwrap_or_default()
}

fn is_to(email: &Value, address: &str) -> bool {
    email["destination"]["to"]
        .as_array()
        .is_some_and(|to| to.iter().any(|to| to == address))
}

/// Waits until every email recorded before now has reached the local SES. Emails are sent
/// after the request, by the mailer the stream poller invokes in the stream's order, so once
/// a registration made now has its welcome email, every earlier email has been handled too.
pub async fn mail_settled() {
    let sentinel = unique_email("sentinel");
    Api::anonymous().create_user(&sentinel, "Sentinel").await;
    wait_for_mail(&sentinel, 1).await;
}

/// Every email to `address`, once at least `count` have arrived (panics after 30 s).
pub async fn wait_for_mail(address: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mails: Vec<Value> = stored_emails()
            .await
            .into_iter()
            .filter(|email| is_to(email, address))
            .collect();
        if mails.len() >= count {
            return mails;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{count} email(s) to {address} did not arrive within 30 s (see .devstack/run/poller.log)"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Every email the local SES holds for `address`, once every email recorded before the call
/// has been sent.
pub async fn mailbox_for(address: &str) -> Vec<Value> {
    mail_settled().await;
    stored_emails()
        .await
        .into_iter()
        .filter(|email| is_to(email, address))
        .collect()
}

/// Where `make test` has `cargo lambda watch` write its log.
pub fn api_log_path() -> String {
    std::env::var("API_LOG").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.devstack/run/api.log").to_owned()
    })
}

/// The log of `cargo lambda watch` (`make test` writes it): the functions' output.
pub fn api_log() -> String {
    let path = api_log_path();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {path} ({error}): run make test"))
}

/// How many instances of `function` have started so far: one cold-start metric record each.
pub fn cold_starts_of(function: &str) -> usize {
    api_log()
        .lines()
        .filter(|line| line.starts_with('{'))
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|record| record["Function"] == function && record["ColdStart"] == 1)
        .count()
}

/// The reset tokens the local SES holds for `address`, oldest first.
pub async fn reset_tokens(address: &str) -> Vec<String> {
    mailed_tokens(address, "Reset your password").await
}

/// The tokens (`token=` lines) of the messages with `subject` the local SES holds for
/// `address`, oldest first.
pub async fn mailed_tokens(address: &str, subject: &str) -> Vec<String> {
    mailbox_for(address)
        .await
        .iter()
        .filter(|mail| mail["subject"] == subject)
        .filter_map(|mail| {
            mail["body"]["text"]
                .as_str()?
                .lines()
                .find_map(|line| line.strip_prefix("token="))
                .map(str::to_owned)
        })
        .collect()
}

/// A session as a client holds it.
pub struct Session {
    pub id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

impl Session {
    pub fn api(&self) -> Api {
        Api::with_token(&self.access)
    }
}

pub async fn reset_token(email: &str) -> String {
    reset_tokens(email).await.pop().expect("a reset email")
}

pub async fn login(email: &str, password: &str) -> Reply {
    Api::anonymous()
        .send_json(
            Method::POST,
            "/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
}

/// The whole real path: register, set a password (`correct horse battery`) through the
/// emailed token, log in.
pub async fn new_user_session(who: &str) -> Session {
    let anyone = Api::anonymous();
    let email = unique_email(who);
    let id = anyone.create_user(&email, "Identity Tester").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = anyone
        .send_json(
            Method::POST,
            "/password-reset",
            &serde_json::json!({"email": email}),
        )
        .await;
    assert_eq!(reply.status, 202);
    let token = reset_token(&email).await;
    let body = serde_json::json!({"token": token, "new_password": "correct horse battery"});
    let reply = anyone
        .send_json(Method::POST, "/password-reset/confirm", &body)
        .await;
    assert_eq!(reply.status, 204);
    let reply = login(&email, "correct horse battery").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    Session {
        id,
        email,
        access: reply.body["access_token"].as_str().unwrap().to_owned(),
        refresh: reply.body["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// `PUT /users/{id}/role` by `admin`.
pub async fn set_role(admin: &Api, id: &str, role: &str) -> Reply {
    admin
        .send_json(
            Method::PUT,
            &format!("/users/{id}/role"),
            &serde_json::json!({ "role": role }),
        )
        .await
}

/// A new user, promoted by `admin`, signed in again as an admin.
pub async fn new_admin_session(admin: &Api, who: &str) -> Session {
    let user = new_user_session(who).await;
    set_role(admin, &user.id, "admin").await.expect_user(200);
    let reply = login(&user.email, "correct horse battery").await;
    assert_eq!(reply.body["user"]["role"], "admin");
    Session {
        access: reply.body["access_token"].as_str().unwrap().to_owned(),
        refresh: reply.body["refresh_token"].as_str().unwrap().to_owned(),
        ..user
    }
}

/// The issuer and audience of the local stack's tokens (`make test` sets them).
pub fn token_audience() -> infrastructure::TokenAudience {
    infrastructure::TokenAudience {
        issuer: std::env::var("JWT_ISSUER").expect("make test sets JWT_ISSUER"),
        audience: std::env::var("JWT_AUDIENCE").expect("make test sets JWT_AUDIENCE"),
    }
}

/// The claims of a JWT, unverified.
pub fn token_claims(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A token of `session`'s user and session, issued at `now` for a sign-in at `auth_time`,
/// signed with the local private key (which `make test` hands the tests), for the cases a
/// login cannot produce.
pub fn minted(
    session: &Session,
    role: domain::Role,
    now: domain::Timestamp,
    auth_time: domain::Timestamp,
    audience: infrastructure::TokenAudience,
) -> String {
    use application::ports::AccessTokenIssuer;
    let issuer = infrastructure::JwtIssuer::new(
        &std::env::var("JWT_SIGNING_KID").unwrap(),
        &std::env::var("JWT_SIGNING_KEY").expect("make test sets JWT_SIGNING_KEY"),
        audience,
    )
    .unwrap();
    let mut user = domain::User::register(
        domain::UserId::parse(&session.id).unwrap(),
        domain::Email::parse("minted@example.com").unwrap(),
        domain::UserName::parse("Minted").unwrap(),
        now,
    );
    user.change_role(role).unwrap();
    let sid = token_claims(&session.access)["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let proof = domain::SessionProof {
        session: domain::SessionId::parse(&sid).unwrap(),
        auth_time,
        methods: domain::AuthMethods::Password,
    };
    issuer.issue(&user, &proof, now).unwrap().token
}

/// `POST /token/refresh` with `token`.
pub async fn refresh(token: &str) -> Reply {
    Api::anonymous()
        .send_json(
            Method::POST,
            "/token/refresh",
            &serde_json::json!({ "refresh_token": token }),
        )
        .await
}

/// The SDK settings of the local stack (local.env's dummy credentials and region).
async fn local_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local", "local", None, None, "tests",
        ))
        .load()
        .await
}

pub fn dynamodb_url() -> String {
    std::env::var("DYNAMODB_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".to_owned())
}

/// moto's server: KMS and SQS.
pub fn moto_url() -> String {
    std::env::var("AWS_ENDPOINT_URL_KMS").unwrap_or_else(|_| "http://127.0.0.1:8006".to_owned())
}

/// The local table's name.
pub fn table_name() -> String {
    std::env::var("TABLE_NAME").unwrap_or_else(|_| "users-local".to_owned())
}

pub async fn local_dynamodb() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&local_sdk_config().await)
        .endpoint_url(dynamodb_url())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// Moves the user's last reset email a minute and a second into the past, as if that minute
/// had been waited out: the one-email-a-minute rule reads the time from this pointer item
/// (`RESET#<user id>` / `LATEST`), so a test of what comes after the minute need not sleep it.
pub async fn pass_the_reset_minute(user_id: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let earlier = domain::Timestamp::now()
        .plus_seconds(-61)
        .expect("a minute ago is a time");
    local_dynamodb()
        .await
        .update_item()
        .table_name(table_name())
        .key("pk", AttributeValue::S(format!("RESET#{user_id}")))
        .key("sk", AttributeValue::S("LATEST".to_owned()))
        .update_expression("SET issued_at = :earlier")
        .condition_expression("attribute_exists(pk)")
        .expression_attribute_values(":earlier", AttributeValue::S(earlier.to_rfc3339()))
        .send()
        .await
        .expect("the user's last reset email is recorded");
}

pub async fn local_streams() -> aws_sdk_dynamodbstreams::Client {
    let config = aws_sdk_dynamodbstreams::config::Builder::from(&local_sdk_config().await)
        .endpoint_url(dynamodb_url())
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

pub async fn local_kms() -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::config::Builder::from(&local_sdk_config().await)
        .endpoint_url(moto_url())
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

pub async fn local_sqs() -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(&local_sdk_config().await)
        .endpoint_url(moto_url())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}
