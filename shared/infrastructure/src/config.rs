use crate::aws_calls::AwsCallTracing;
use crate::dead_letters::DeadLetterQueue;
use crate::eventbridge::EventBridgeBus;
use crate::index_writes::IndexWriteRecorder;
use crate::passwords::Argon2Hasher;
use crate::table_access::TableAccessRecorder;
use crate::tokens::{JwtIssuer, JwtVerifier, KeyError, TokenAudience};
use crate::trust::{Trust, https_client};
use crate::webauthn::WebAuthnRelyingParty;
use crate::{
    DynamoCredentialRepository, DynamoIdempotencyStore, DynamoOrderRepository, DynamoOutbox,
    DynamoUserRepository, KmsSealer, Rfc6238, SesEmailSender, table,
};
use crate::{DynamoSessionRepository, ListingShards};
use application::ports::BoxError;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use domain::{Email, EmailError};
use std::env;
use std::sync::OnceLock;
use std::time::Duration;

pub const TABLE_NAME: &str = "TABLE_NAME";
pub const SENDER_EMAIL: &str = "SENDER_EMAIL";
/// Access tokens: who issues them and for whom (`iss`, `aud`), and the public JWK set every
/// function verifies them against.
pub const JWT_ISSUER: &str = "JWT_ISSUER";
pub const JWT_AUDIENCE: &str = "JWT_AUDIENCE";
pub const JWT_PUBLIC_KEYS: &str = "JWT_PUBLIC_KEYS";
/// The functions that issue tokens: the signing key's `kid`, and the key itself: in the
/// environment, in a file the environment names (the local stack: a path is all that
/// `cargo lambda watch` logs of each spawn), or in a named SSM SecureString (deployed).
pub const JWT_SIGNING_KID: &str = "JWT_SIGNING_KID";
pub const JWT_SIGNING_KEY: &str = "JWT_SIGNING_KEY";
pub const JWT_SIGNING_KEY_FILE: &str = "JWT_SIGNING_KEY_FILE";
pub const JWT_SIGNING_KEY_PARAMETER: &str = "JWT_SIGNING_KEY_PARAMETER";
/// The KMS key that seals secrets read back later (tokens inside outbox emails): its ARN,
/// id or alias.
pub const SECRETS_KEY_ID: &str = "SECRETS_KEY_ID";
/// The issuer an authenticator app shows above a TOTP account (default "User service").
pub const TOTP_ISSUER: &str = "TOTP_ISSUER";
/// Where the X-Ray daemon listens (Lambda sets it with active tracing; the local stack's sink
/// otherwise): set, every AWS call is a subsegment of its trace.
pub const XRAY_DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
/// The bus the publisher puts the service's events on (API.md, "Events").
pub const EVENT_BUS_NAME: &str = "EVENT_BUS_NAME";
/// The publisher's dead-letter queue (its URL), which `make redrive` empties too.
pub const EVENT_DEAD_LETTER_QUEUE_URL: &str = "EVENT_DEAD_LETTER_QUEUE_URL";
/// The mailer's dead-letter queue (its URL), which `make redrive` empties.
pub const DEAD_LETTER_QUEUE_URL: &str = "DEAD_LETTER_QUEUE_URL";
/// The WebAuthn relying party: its id (a domain) and the origins of the pages that call the API
/// (comma-separated).
pub const WEBAUTHN_RP_ID: &str = "WEBAUTHN_RP_ID";
pub const WEBAUTHN_ORIGINS: &str = "WEBAUTHN_ORIGINS";
/// Set by Lambda (and `cargo lambda watch`) in every function's environment.
/// How many shards the user listings spread over (1 to 256; `ListingShards::DEFAULT` when
/// unset). Every function of a stack must have the same.
pub const LISTING_SHARDS: &str = "LISTING_SHARDS";
pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
/// `true` opens the DynamoDB connection during init (docs/performance.md has the trade-off).
pub const WARM_DYNAMODB_CONNECTION: &str = "WARM_DYNAMODB_CONNECTION";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("{SENDER_EMAIL} is not a valid email address")]
    InvalidSender(#[source] EmailError),
    #[error("the access-token keys are not usable")]
    Keys(#[source] KeyError),
    #[error("the signing key could not be read from SSM")]
    SigningKeyParameter(#[source] BoxError),
    #[error("the signing key file {0} could not be read")]
    SigningKeyFile(String, #[source] std::io::Error),
    #[error("{WEBAUTHN_RP_ID} or {WEBAUTHN_ORIGINS} is not usable")]
    RelyingParty(#[source] BoxError),
    #[error("{LISTING_SHARDS} must be a whole number from 1 to 256")]
    ListingShards,
}

/// The AWS side of a function, built once per cold start: region and credentials from the
/// Lambda environment, plus the standard `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SESV2`
/// overrides that point the clients at DynamoDB Local and the local SES.
#[derive(Debug, Clone)]
pub struct Aws {
    sdk: SdkConfig,
    /// Built by the first repository that needs it and shared by all: building a client
    /// parses the SDK's endpoint rules, a cost worth paying once per cold start, not per
    /// repository.
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
    /// Whether every AWS call is a subsegment of the trace (`AWS_XRAY_DAEMON_ADDRESS` set).
    traced: bool,
}

/// A client of one service, built from the shared configuration, tracing each call when
/// tracing is on: `client!(self, aws_sdk_kms, "KMS", Some(key))`.
macro_rules! client {
    ($aws:expr, $sdk:ident, $service:literal, $resource:expr) => {{
        let mut config = $sdk::config::Builder::from(&$aws.sdk);
        if $aws.traced {
            config = config.interceptor(AwsCallTracing::new($service, $resource));
        }
        $sdk::Client::from_conf(config.build())
    }};
}

/// Bounds on every AWS call, so that an unreachable or frozen service answers 503 long before
/// API Gateway's 29 s limit (and the functions' 10 s timeout): a connection gets 1 s, an attempt
/// 2 s, and a whole call with its retries 5 s. Throttling is retried by the SDK's standard
/// mode with backoff, up to 3 attempts, before it becomes a 503.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build()
}

pub fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

impl Aws {
    pub async fn from_env() -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if env::var_os(AWS_LAMBDA_FUNCTION_NAME).is_some() {
            // In Lambda the role's credentials and the region are environment variables. The
            // default chains would also build, at every cold start, providers for profile
            // files, web identity (with an STS client), ECS and IMDS that are never asked.
            loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
            if let Some(region) = env::var("AWS_REGION")
                .ok()
                .filter(|region| !region.is_empty())
            {
                loader = loader.region(Region::new(region));
            }
        }
        match https_client(Trust::from_env()) {
            Ok(client) => loader = loader.http_client(client),
            // Not expected (the roots are compiled in and checked by a test); the SDK's own
            // client, with the system store, is the fallback.
            Err(error) => tracing::warn!(%error, "kept the SDK's default HTTPS client"),
        }
        let sdk = loader
            .timeout_config(timeouts())
            .retry_config(retries())
            .load()
            .await;
        let aws = Self::from_sdk_config(sdk);
        if env::var(WARM_DYNAMODB_CONNECTION).is_ok_and(|value| value == "true") {
            aws.warm_dynamodb_connection().await;
        }
        aws
    }

    /// One `GetItem` of a key no item has, so that connection set-up (TCP, TLS) and the SDK's
    /// first-call work happen in init instead of in the first request. Its outcome does not
    /// matter: even a refused call leaves the connection open for reuse.
    async fn warm_dynamodb_connection(&self) {
        let Ok(table) = required(TABLE_NAME) else {
            return;
        };
        let key = |value: &str| aws_sdk_dynamodb::types::AttributeValue::S(value.to_owned());
        let outcome = self
            .dynamodb()
            .get_item()
            .table_name(table)
            .key(table::PARTITION_KEY, key("WARM-UP"))
            .key(table::SORT_KEY, key("WARM-UP"))
            .send()
            .await;
        tracing::debug!(
            succeeded = outcome.is_ok(),
            "warmed the DynamoDB connection"
        );
    }

    pub fn from_sdk_config(sdk: SdkConfig) -> Self {
        Self {
            sdk,
            dynamodb: OnceLock::new(),
            traced: env::var_os(XRAY_DAEMON_ADDRESS).is_some(),
        }
    }

    /// The one DynamoDB client of this process (clones share its connections). Under
    /// `make test` it records the partition-key kinds of every call (`table_access`), under
    /// `make load` the index units of every write (`index_writes`).
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        self.dynamodb
            .get_or_init(|| {
                let table_access = TableAccessRecorder::from_env();
                let index_writes = IndexWriteRecorder::from_env();
                if table_access.is_none() && index_writes.is_none() && !self.traced {
                    return aws_sdk_dynamodb::Client::new(&self.sdk);
                }
                let mut config = aws_sdk_dynamodb::config::Builder::from(&self.sdk);
                if self.traced {
                    let table = optional(TABLE_NAME);
                    config = config.interceptor(AwsCallTracing::new("DynamoDB", table));
                }
                if let Some(recorder) = table_access {
                    config = config.interceptor(recorder);
                }
                if let Some(recorder) = index_writes {
                    config = config.interceptor(recorder);
                }
                aws_sdk_dynamodb::Client::from_conf(config.build())
            })
            .clone()
    }

    pub fn sesv2(&self) -> aws_sdk_sesv2::Client {
        client!(self, aws_sdk_sesv2, "SESv2", None)
    }

    /// Users in the table named by `TABLE_NAME`.
    pub fn user_repository(&self) -> Result<DynamoUserRepository, SettingsError> {
        let shards = match optional(LISTING_SHARDS) {
            None => ListingShards::DEFAULT,
            Some(raw) => raw
                .trim()
                .parse()
                .ok()
                .and_then(ListingShards::new)
                .ok_or(SettingsError::ListingShards)?,
        };
        Ok(
            DynamoUserRepository::new(self.dynamodb(), required(TABLE_NAME)?)
                .with_listing_shards(shards),
        )
    }

    /// Orders in the table named by `TABLE_NAME`.
    pub fn order_repository(&self) -> Result<DynamoOrderRepository, SettingsError> {
        Ok(DynamoOrderRepository::new(
            self.dynamodb(),
            required(TABLE_NAME)?,
        ))
    }

    /// Reset tokens and password hashes in the table named by `TABLE_NAME`.
    pub fn credential_repository(&self) -> Result<DynamoCredentialRepository, SettingsError> {
        Ok(DynamoCredentialRepository::new(
            self.dynamodb(),
            required(TABLE_NAME)?,
        ))
    }

    /// The step-up check of a user's own sensitive changes: a `current_password` checked like
    /// a login (the address's lockout included), else the token's `auth_time`.
    pub fn step_up(
        &self,
    ) -> Result<
        application::credentials::StepUp<DynamoCredentialRepository, Argon2Hasher>,
        SettingsError,
    > {
        Ok(application::credentials::StepUp::new(
            self.credential_repository()?,
            Argon2Hasher::default(),
        ))
    }

    /// Idempotency records in the table named by `TABLE_NAME`.
    pub fn idempotency_store(&self) -> Result<DynamoIdempotencyStore, SettingsError> {
        Ok(DynamoIdempotencyStore::new(
            self.dynamodb(),
            required(TABLE_NAME)?,
        ))
    }

    /// Refresh tokens in the table named by `TABLE_NAME`.
    pub fn session_repository(&self) -> Result<DynamoSessionRepository, SettingsError> {
        Ok(DynamoSessionRepository::new(
            self.dynamodb(),
            required(TABLE_NAME)?,
        ))
    }

    /// Verifies access tokens against `JWT_PUBLIC_KEYS`; no network, no key fetch.
    pub fn token_verifier(&self) -> Result<JwtVerifier, SettingsError> {
        JwtVerifier::new(&required(JWT_PUBLIC_KEYS)?, token_audience()?)
            .map_err(SettingsError::Keys)
    }

    /// Signs access tokens with the private key: from `JWT_SIGNING_KEY`, else from the file
    /// `JWT_SIGNING_KEY_FILE` names (the local stack), else read once, decrypted, from the SSM
    /// SecureString `JWT_SIGNING_KEY_PARAMETER`.
    pub async fn token_issuer(&self) -> Result<JwtIssuer, SettingsError> {
        let private_key = match (optional(JWT_SIGNING_KEY), optional(JWT_SIGNING_KEY_FILE)) {
            (Some(key), _) => key,
            (None, Some(path)) => signing_key_from_file(&path)?,
            (None, None) => {
                self.signing_key_from_ssm(&required(JWT_SIGNING_KEY_PARAMETER)?)
                    .await?
            }
        };
        JwtIssuer::new(&required(JWT_SIGNING_KID)?, &private_key, token_audience()?)
            .map_err(SettingsError::Keys)
    }

    async fn signing_key_from_ssm(&self, name: &str) -> Result<String, SettingsError> {
        let output = client!(self, aws_sdk_ssm, "SSM", Some(name.to_owned()))
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| {
                SettingsError::SigningKeyParameter(
                    crate::aws_errors::AwsFailure::from_sdk("SSM", &error).into(),
                )
            })?;
        output
            .parameter
            .and_then(|parameter| parameter.value)
            .ok_or_else(|| SettingsError::SigningKeyParameter("the parameter has no value".into()))
    }

    /// The outbox items, as the mailer sees them.
    pub fn outbox(&self) -> Result<DynamoOutbox, SettingsError> {
        Ok(DynamoOutbox::new(self.dynamodb(), required(TABLE_NAME)?))
    }

    /// Seals and opens secrets with the KMS key `SECRETS_KEY_ID`. The client is built here,
    /// only by the functions that seal or open.
    pub fn secret_sealer(&self) -> Result<KmsSealer, SettingsError> {
        Ok(KmsSealer::new(
            client!(self, aws_sdk_kms, "KMS", optional(SECRETS_KEY_ID)),
            required(SECRETS_KEY_ID)?,
        ))
    }

    /// TOTP codes and recovery codes, under the issuer `TOTP_ISSUER` names.
    pub fn one_time_passwords(&self) -> Rfc6238 {
        Rfc6238::new(optional(TOTP_ISSUER).unwrap_or_else(|| "User service".to_owned()))
    }

    /// The WebAuthn relying party `WEBAUTHN_RP_ID`, for the pages at `WEBAUTHN_ORIGINS`.
    pub fn passkey_relying_party(&self) -> Result<WebAuthnRelyingParty, SettingsError> {
        let origins: Vec<String> = required(WEBAUTHN_ORIGINS)?
            .split(',')
            .map(|origin| origin.trim().to_owned())
            .filter(|origin| !origin.is_empty())
            .collect();
        WebAuthnRelyingParty::new(&required(WEBAUTHN_RP_ID)?, &origins)
            .map_err(SettingsError::RelyingParty)
    }

    /// The mailer's dead-letter queue, `DEAD_LETTER_QUEUE_URL`.
    pub fn dead_letter_queue(&self) -> Result<DeadLetterQueue, SettingsError> {
        Ok(DeadLetterQueue::new(
            client!(self, aws_sdk_sqs, "SQS", optional(DEAD_LETTER_QUEUE_URL)),
            required(DEAD_LETTER_QUEUE_URL)?,
        ))
    }

    /// The event bus `EVENT_BUS_NAME`. The client is built here, only by the publisher.
    pub fn event_bus(&self) -> Result<EventBridgeBus, SettingsError> {
        Ok(EventBridgeBus::new(
            client!(
                self,
                aws_sdk_eventbridge,
                "EventBridge",
                optional(EVENT_BUS_NAME)
            ),
            required(EVENT_BUS_NAME)?,
        ))
    }

    /// The publisher's dead-letter queue, `EVENT_DEAD_LETTER_QUEUE_URL`, when it is set.
    pub fn event_dead_letter_queue(&self) -> Option<DeadLetterQueue> {
        optional(EVENT_DEAD_LETTER_QUEUE_URL).map(|url| {
            DeadLetterQueue::new(client!(self, aws_sdk_sqs, "SQS", Some(url.clone())), url)
        })
    }

    /// Email through SES from the address in `SENDER_EMAIL`.
    pub fn email_sender(&self) -> Result<SesEmailSender, SettingsError> {
        let sender =
            Email::parse(&required(SENDER_EMAIL)?).map_err(SettingsError::InvalidSender)?;
        Ok(SesEmailSender::new(self.sesv2(), sender))
    }
}

/// The public JWK set of `JWT_PUBLIC_KEYS`, checked and written out canonically, as
/// `GET /.well-known/jwks.json` serves it.
pub fn public_key_set() -> Result<String, SettingsError> {
    crate::tokens::public_key_set(&required(JWT_PUBLIC_KEYS)?).map_err(SettingsError::Keys)
}

fn signing_key_from_file(path: &str) -> Result<String, SettingsError> {
    std::fs::read_to_string(path)
        .map(|key| key.trim().to_owned())
        .map_err(|error| SettingsError::SigningKeyFile(path.to_owned(), error))
}

fn token_audience() -> Result<TokenAudience, SettingsError> {
    Ok(TokenAudience {
        issuer: required(JWT_ISSUER)?,
        audience: required(JWT_AUDIENCE)?,
    })
}

fn optional(name: &'static str) -> Option<String> {
    env::var(name).ok().filter(|value| !value.trim().is_empty())
}

fn required(name: &'static str) -> Result<String, SettingsError> {
    env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .ok_or(SettingsError::Missing(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signing_key_file_is_read_without_its_line_break() {
        let path = std::env::temp_dir().join(format!("signing-key-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "MFECAQEwBQYDK2Vw\n").unwrap();
        let key = signing_key_from_file(path.to_str().unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(key, "MFECAQEwBQYDK2Vw");
    }

    #[test]
    fn a_missing_signing_key_file_names_its_path_and_nothing_else() {
        let error = signing_key_from_file("/nonexistent/signing-key").unwrap_err();
        assert!(matches!(error, SettingsError::SigningKeyFile(..)));
        assert_eq!(
            error.to_string(),
            "the signing key file /nonexistent/signing-key could not be read"
        );
    }
}
