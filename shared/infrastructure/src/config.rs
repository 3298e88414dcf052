use crate::{
    DynamoCredentialRepository, DynamoIdempotencyStore, DynamoOrderRepository,
    DynamoUserRepository, SesEmailSender, table,
};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use domain::{Email, EmailError};
use std::env;
use std::time::Duration;

pub const TABLE_NAME: &str = "TABLE_NAME";
pub const SENDER_EMAIL: &str = "SENDER_EMAIL";
/// `true` opens the DynamoDB connection during init (docs/performance.md has the trade-off).
pub const WARM_DYNAMODB_CONNECTION: &str = "WARM_DYNAMODB_CONNECTION";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("{SENDER_EMAIL} is not a valid email address")]
    InvalidSender(#[source] EmailError),
}

/// The AWS side of a function, built once per cold start: region and credentials from the
/// Lambda environment, plus the standard `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL_SESV2`
/// overrides that point the clients at DynamoDB Local and the local SES.
#[derive(Debug, Clone)]
pub struct Aws {
    sdk: SdkConfig,
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
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts())
            .retry_config(retries())
            .load()
            .await;
        let aws = Self { sdk };
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
        Self { sdk }
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn sesv2(&self) -> aws_sdk_sesv2::Client {
        aws_sdk_sesv2::Client::new(&self.sdk)
    }

    /// Users in the table named by `TABLE_NAME`.
    pub fn user_repository(&self) -> Result<DynamoUserRepository, SettingsError> {
        Ok(DynamoUserRepository::new(
            self.dynamodb(),
            required(TABLE_NAME)?,
        ))
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

    /// Idempotency records in the table named by `TABLE_NAME`.
    pub fn idempotency_store(&self) -> Result<DynamoIdempotencyStore, SettingsError> {
        Ok(DynamoIdempotencyStore::new(
            self.dynamodb(),
            required(TABLE_NAME)?,
        ))
    }

    /// Email through SES from the address in `SENDER_EMAIL`.
    pub fn email_sender(&self) -> Result<SesEmailSender, SettingsError> {
        let sender =
            Email::parse(&required(SENDER_EMAIL)?).map_err(SettingsError::InvalidSender)?;
        Ok(SesEmailSender::new(self.sesv2(), sender))
    }
}

fn required(name: &'static str) -> Result<String, SettingsError> {
    env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .ok_or(SettingsError::Missing(name))
}
