//! What the bench asks of each function: one API Gateway v2 event per invocation, on data the
//! earlier functions of the same round created, and the status a correct answer has.

use anyhow::{Context, bail, ensure};
use application::ports::Outgoing;
use bench::authenticator::Authenticator;
use serde_json::{Value, json};

/// The functions in the order a round runs them: each one's events use what the ones
/// before it created (users, orders, reset tokens), and `delete-user` comes last.
pub const FUNCTIONS: [&str; 24] = [
    "empty-lambda",
    "create-user",
    "get-user",
    "list-users",
    "update-user-email",
    "record-login",
    "place-order",
    "get-order",
    "list-user-orders",
    "suspend-user",
    "activate-user",
    "request-password-reset",
    "confirm-password-reset",
    "login",
    "finish-login",
    "refresh-token",
    "start-passkey-registration",
    "register-passkey",
    "list-passkeys",
    "passkey-sign-in-options",
    "passkey-sign-in",
    "remove-passkey",
    "delete-user",
    "docs",
];

/// The routes only the user may call: their events carry the user's own token.
const USERS_OWN: [&str; 2] = ["start-passkey-registration", "register-passkey"];

#[derive(Debug, Clone)]
pub struct BenchUser {
    pub id: String,
    pub email: String,
}

/// The data of one round: users, one order per user, one reset token per user.
#[derive(Debug, Default)]
pub struct Round {
    pub tag: String,
    pub users: Vec<BenchUser>,
    pub orders: Vec<String>,
    pub tokens: Vec<String>,
    /// The refresh token of each user's login, for `refresh-token`.
    pub refresh_tokens: Vec<String>,
    /// `Bearer <token>` of an administrator, which every protected route accepts.
    pub authorization: Option<String>,
    /// Each user's `mfa_token`, for `finish-login` (see `TWO_STEP_SECRET`).
    pub mfa_tokens: Vec<String>,
    /// `Bearer <token>` of each user, signed in just now, for `USERS_OWN` (registering a
    /// passkey needs a fresh sign-in too).
    pub user_authorizations: Vec<String>,
    /// Each user's passkey authenticator and its registration: id and creation options.
    pub registrations: Vec<(Authenticator, String, String)>,
    /// Each user's registered passkey's id.
    pub passkeys: Vec<String>,
    /// Passkey sign-in challenges: id and request options.
    pub passkey_challenges: Vec<(String, String)>,
}

/// The TOTP secret every user of a round turns on before `finish-login`: each user accepts one
/// code per 30-second step, and each invocation is another user's.
pub const TWO_STEP_SECRET: [u8; 20] = [42; 20];

/// The authenticator's code of `TWO_STEP_SECRET` now.
fn current_code() -> anyhow::Result<String> {
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        TWO_STEP_SECRET.to_vec(),
        None,
        "bench".to_owned(),
    )?;
    Ok(totp.generate_current()?)
}

impl Round {
    pub fn new(tag: String, authorization: Option<String>) -> Self {
        Self {
            tag,
            authorization,
            ..Self::default()
        }
    }

    fn user(&self, index: usize) -> anyhow::Result<&BenchUser> {
        self.users
            .get(index)
            .with_context(|| format!("no user {index}: create-user made {}", self.users.len()))
    }

    fn password(&self, index: usize) -> String {
        format!("bench-password-{}-{index}", self.tag)
    }

    /// The event of invocation `index` of `function`.
    pub fn event(&self, function: &str, index: usize) -> anyhow::Result<Value> {
        let event = match function {
            "empty-lambda" => api_event("GET", "/ping", "GET /ping", &[], "", None),
            "create-user" => api_event(
                "POST",
                "/users",
                "POST /users",
                &[],
                "",
                Some(json!({
                    "email": format!("bench-{}-{index}@example.com", self.tag),
                    "name": "Ada Lovelace",
                })),
            ),
            "get-user" | "get-item-lambda" => self.on_user("GET", "", "", index, None)?,
            "transact-lambda" => api_event("POST", "/floor", "POST /floor", &[], "", None),
            "list-users" => api_event("GET", "/users", "GET /users", &[], "limit=20", None),
            "update-user-email" => self.on_user(
                "PUT",
                "/email",
                "",
                index,
                Some(json!({"email": format!("bench-{}-{index}-new@example.com", self.tag)})),
            )?,
            "record-login" => self.on_user("POST", "/logins", "", index, None)?,
            "place-order" => self.on_user(
                "POST",
                "/orders",
                "",
                index,
                Some(json!({"items": [
                    {"sku": "BOOK-1", "quantity": 2, "unit_price": {"amount": "12.50", "currency": "EUR"}},
                    {"sku": "PEN-7", "quantity": 3, "unit_price": {"amount": "0.10", "currency": "EUR"}},
                ]})),
            )?,
            "get-order" => {
                let user = self.user(index)?;
                let order = self.orders.get(index).context("no order for this user")?;
                api_event(
                    "GET",
                    &format!("/users/{}/orders/{order}", user.id),
                    "GET /users/{id}/orders/{order_id}",
                    &[("id", &user.id), ("order_id", order)],
                    "",
                    None,
                )
            }
            "list-user-orders" => self.on_user("GET", "/orders", "limit=20", index, None)?,
            "suspend-user" => self.on_user("POST", "/suspend", "", index, None)?,
            "activate-user" => self.on_user("POST", "/activate", "", index, None)?,
            "request-password-reset" => api_event(
                "POST",
                "/password-reset",
                "POST /password-reset",
                &[],
                "",
                Some(json!({"email": self.user(index)?.email})),
            ),
            "confirm-password-reset" => api_event(
                "POST",
                "/password-reset/confirm",
                "POST /password-reset/confirm",
                &[],
                "",
                Some(json!({
                    "token": self.tokens.get(index).context("no reset token for this user")?,
                    "new_password": self.password(index),
                })),
            ),
            "login" => api_event(
                "POST",
                "/login",
                "POST /login",
                &[],
                "",
                Some(json!({"email": self.user(index)?.email, "password": self.password(index)})),
            ),
            "finish-login" => api_event(
                "POST",
                "/login/mfa",
                "POST /login/mfa",
                &[],
                "",
                Some(json!({
                    "mfa_token": self.mfa_tokens.get(index).context("no mfa_token for this user")?,
                    "code": current_code()?,
                })),
            ),
            "start-passkey-registration" => {
                self.on_user("POST", "/passkeys/registration", "", index, Some(json!({})))?
            }
            "register-passkey" => {
                let (authenticator, registration_id, options) = self
                    .registrations
                    .get(index)
                    .context("no registration: run start-passkey-registration first")?;
                let credential: Value = serde_json::from_str(&authenticator.create(options))?;
                self.on_user(
                    "POST",
                    "/passkeys",
                    "",
                    index,
                    Some(json!({
                        "registration_id": registration_id,
                        "name": "Bench key",
                        "credential": credential,
                    })),
                )?
            }
            "list-passkeys" => self.on_user("GET", "/passkeys", "", index, None)?,
            "passkey-sign-in-options" => api_event(
                "POST",
                "/login/passkey/options",
                "POST /login/passkey/options",
                &[],
                "",
                Some(json!({})),
            ),
            "passkey-sign-in" => {
                let (challenge_id, options) = self
                    .passkey_challenges
                    .get(index)
                    .context("no challenge: run passkey-sign-in-options first")?;
                let (authenticator, _, _) = self
                    .registrations
                    .get(index)
                    .context("no passkey: run register-passkey first")?;
                let user = domain::UserId::parse(&self.user(index)?.id)?;
                let credential: Value = serde_json::from_str(&authenticator.get(options, user, 1))?;
                api_event(
                    "POST",
                    "/login/passkey",
                    "POST /login/passkey",
                    &[],
                    "",
                    Some(json!({"challenge_id": challenge_id, "credential": credential})),
                )
            }
            "remove-passkey" => {
                let user = self.user(index)?;
                let passkey = self.passkeys.get(index).context("no passkey for this user")?;
                api_event(
                    "DELETE",
                    &format!("/users/{}/passkeys/{passkey}", user.id),
                    "DELETE /users/{id}/passkeys/{passkey_id}",
                    &[("id", &user.id), ("passkey_id", passkey)],
                    "",
                    None,
                )
            }
            "delete-user" => self.on_user("DELETE", "", "", index, None)?,
            "docs" => api_event("GET", "/openapi.json", "GET /openapi.json", &[], "", None),
            "refresh-token" => {
                let token = self
                    .refresh_tokens
                    .get(index)
                    .context("no refresh token: run login first")?;
                api_event(
                    "POST",
                    "/token/refresh",
                    "POST /token/refresh",
                    &[],
                    "",
                    Some(json!({ "refresh_token": token })),
                )
            }
            other => bail!("the bench has no workload for {other}"),
        };
        let mut event = event;
        let authorization = if USERS_OWN.contains(&function) {
            Some(
                self.user_authorizations
                    .get(index)
                    .context("no sign-in of this user")?,
            )
        } else {
            self.authorization.as_ref()
        };
        if let Some(authorization) = authorization {
            event["headers"]["authorization"] = json!(authorization);
        }
        Ok(event)
    }

    /// Checks the answer to invocation `index` and keeps what later functions need.
    pub fn record(&mut self, function: &str, index: usize, response: &Value) -> anyhow::Result<()> {
        let status = response["statusCode"].as_u64().unwrap_or_default();
        let expected = match function {
            "create-user" | "place-order" | "register-passkey" => 201,
            "request-password-reset" => 202,
            "confirm-password-reset" | "delete-user" | "remove-passkey" => 204,
            _ => 200,
        };
        ensure!(
            status == expected,
            "{function} answered {status}, not {expected}: {}",
            response["body"]
        );
        match function {
            "create-user" => {
                let body = json_body(response)?;
                let id = body["id"].as_str().context("a user without id")?.to_owned();
                let email = body["email"].as_str().context("a user without email")?;
                self.users.push(BenchUser {
                    id,
                    email: email.to_owned(),
                });
            }
            "update-user-email" => {
                let email = json_body(response)?["email"]
                    .as_str()
                    .context("a user without email")?
                    .to_owned();
                if let Some(user) = self.users.get_mut(index) {
                    user.email = email;
                }
            }
            "place-order" => {
                let body = json_body(response)?;
                let id = body["id"].as_str().context("an order without id")?;
                self.orders.push(id.to_owned());
            }
            "login" => {
                let body = json_body(response)?;
                let token = body["refresh_token"]
                    .as_str()
                    .context("a login without tokens")?;
                self.refresh_tokens.push(token.to_owned());
            }
            "start-passkey-registration" => {
                let body = json_body(response)?;
                let id = body["registration_id"]
                    .as_str()
                    .context("no registration_id")?;
                let options = body["options"]["publicKey"].to_string();
                self.registrations
                    .push((Authenticator::new(), id.to_owned(), options));
            }
            "register-passkey" => {
                let id = json_body(response)?["id"]
                    .as_str()
                    .context("a passkey without id")?
                    .to_owned();
                self.passkeys.push(id);
            }
            "passkey-sign-in-options" => {
                let body = json_body(response)?;
                let id = body["challenge_id"].as_str().context("no challenge_id")?;
                let options = body["options"]["publicKey"].to_string();
                self.passkey_challenges.push((id.to_owned(), options));
            }
            _ => {}
        }
        Ok(())
    }

    fn on_user(
        &self,
        method: &str,
        suffix: &str,
        query: &str,
        index: usize,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let user = self.user(index)?;
        let route = format!("{method} /users/{{id}}{suffix}");
        Ok(api_event(
            method,
            &format!("/users/{}{suffix}", user.id),
            &route,
            &[("id", &user.id)],
            query,
            body,
        ))
    }

    /// The reset tokens of this round's users, in user order, from the emails recorded for
    /// them as (address, text).
    pub fn take_tokens(&mut self, emails: &[(String, String)]) -> anyhow::Result<()> {
        let mut by_address = std::collections::HashMap::new();
        for (address, text) in emails {
            if let Some(token) = text.lines().find_map(|line| line.strip_prefix("token=")) {
                by_address.insert(address.clone(), token.trim().to_owned());
            }
        }
        self.tokens = self
            .users
            .iter()
            .map(|user| {
                by_address
                    .get(&user.email)
                    .cloned()
                    .with_context(|| format!("no reset email for {}", user.email))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(())
    }
}

fn json_body(response: &Value) -> anyhow::Result<Value> {
    let body = response["body"]
        .as_str()
        .context("a response without body")?;
    Ok(serde_json::from_str(body)?)
}

/// An API Gateway HTTP API (payload 2.0) event, as Lambda delivers it.
/// The local stack's token issuer, from the settings `make bench` hands over like `make test`;
/// `None` without a signing key.
fn token_issuer() -> anyhow::Result<Option<infrastructure::JwtIssuer>> {
    let variable = |name: &str| std::env::var(name).ok();
    let (Some(issuer), Some(audience), Some(kid), Some(key)) = (
        variable("JWT_ISSUER"),
        variable("JWT_AUDIENCE"),
        variable("JWT_SIGNING_KID"),
        variable("JWT_SIGNING_KEY"),
    ) else {
        return Ok(None);
    };
    let audience = infrastructure::TokenAudience { issuer, audience };
    Ok(Some(infrastructure::JwtIssuer::new(&kid, &key, audience)?))
}

/// `Bearer <token>` of `user` signed in now with `methods`: the session and its first refresh
/// token are stored as a sign-in stores them, since protected routes read the session with
/// what they read anyway.
async fn signed_in(
    users: &infrastructure::DynamoUserRepository,
    issuer: &infrastructure::JwtIssuer,
    user: domain::User,
    methods: domain::AuthMethods,
) -> anyhow::Result<String> {
    use application::ports::{
        AccessTokenIssuer, LoginStore, RefreshTokenRecord, ResetTokens, SessionOrigin,
        SessionRecord,
    };
    let now = domain::Timestamp::now();
    let proof = domain::SessionProof {
        session: domain::SessionId::start(now),
        auth_time: now,
        methods,
    };
    let session = SessionRecord {
        user_id: user.id(),
        id: proof.session,
        methods: proof.methods,
        last_used_at: now,
        origin: SessionOrigin::default(),
    };
    let first_token = RefreshTokenRecord {
        hash: infrastructure::OsResetTokens
            .issue()
            .map_err(|error| anyhow::anyhow!(error))?
            .hash,
        user_id: user.id(),
        proof,
        used: false,
    };
    let mut after = user.clone();
    after.record_login(now)?;
    let email = user.email().clone();
    let user = users
        .record_login(&user, after, &session, &first_token, &email, None)
        .await?;
    let token = issuer
        .issue(&user, &proof, now)
        .map_err(|error| anyhow::anyhow!(error))?;
    Ok(format!("Bearer {}", token.token))
}

/// `Bearer <token>` of an administrator (stored in the table first, as `admin promote` and a
/// sign-in store it) signed in with a second factor, as the deployed admin MFA setting wants:
/// every protected route lets it in, so the bench measures routes, not authorization
/// refusals. `None` without a signing key.
pub async fn admin_authorization(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<Option<String>> {
    use application::ports::UserRepository;
    let Some(issuer) = token_issuer()? else {
        return Ok(None);
    };
    let now = domain::Timestamp::now();
    let email = domain::Email::parse(&format!(
        "bench-admin-{}@example.com",
        domain::UserId::generate()
    ))?;
    let registered = domain::User::register(
        domain::UserId::generate(),
        email,
        domain::UserName::parse("Bench Admin")?,
        now,
    );
    let users = infrastructure::DynamoUserRepository::new(client.clone(), table);
    users.insert(&registered, &Outgoing::nothing()).await?;
    // Promoted as `admin promote` does, so the table's count of active admins counts it.
    let mut admin = registered.clone();
    admin.change_role(domain::Role::Admin)?;
    let admin = users
        .update(&registered, admin, &Outgoing::nothing())
        .await?;
    let methods = domain::AuthMethods::PasswordAndOneTimeCode;
    Ok(Some(signed_in(&users, &issuer, admin, methods).await?))
}

/// Each user of `round` signed in just now, for the routes that are a user's own business.
pub async fn sign_in_users(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    round: &mut Round,
) -> anyhow::Result<()> {
    use application::ports::UserRepository;
    let issuer = token_issuer()?.context("signing users in needs the local signing key")?;
    let users = infrastructure::DynamoUserRepository::new(client.clone(), table);
    round.user_authorizations.clear();
    for bench_user in &round.users {
        let id = domain::UserId::parse(&bench_user.id)?;
        let user = users.find(id).await?.context("a round's user is gone")?;
        let authorization = signed_in(&users, &issuer, user, domain::AuthMethods::Password).await?;
        round.user_authorizations.push(authorization);
    }
    Ok(())
}

pub fn api_event(
    method: &str,
    path: &str,
    route_key: &str,
    path_parameters: &[(&str, &str)],
    query: &str,
    body: Option<Value>,
) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": {
            "accept": "application/json",
            "content-type": "application/json",
            "host": "bench.execute-api.us-east-1.amazonaws.com",
            "user-agent": "bench",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": "bench",
            "routeKey": route_key,
            "stage": "$default",
            "time": "24/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1_795_478_400_000_u64,
        },
        "isBase64Encoded": false,
    });
    if !path_parameters.is_empty() {
        event["pathParameters"] = path_parameters
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    if !query.is_empty() {
        event["queryStringParameters"] = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), Value::from(value)))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    if let Some(body) = body {
        event["body"] = body.to_string().into();
    }
    event
}
