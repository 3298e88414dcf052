//! Adapters from the application's ports to AWS: DynamoDB for storage, SES v2 for email,
//! and the process environment for configuration.

pub mod aws_calls;
pub mod aws_errors;
pub mod config;
pub mod dead_letters;
pub mod dynamodb;
pub mod eventbridge;
pub mod index_writes;
pub mod kms;
pub mod mailer;
pub mod otp;
pub mod passwords;
pub mod publisher;
pub mod ses;
pub mod stream_batch;
pub mod system;
pub mod table_access;
pub mod tokens;
pub mod trust;
pub mod webauthn;

pub use config::{Aws, LISTING_SHARDS, SENDER_EMAIL, SettingsError, TABLE_NAME};
pub use dynamodb::{
    DynamoCredentialRepository, DynamoIdempotencyStore, DynamoOrderRepository, DynamoOutbox,
    DynamoSessionRepository, DynamoUserRepository, ListingShards, OUTBOX_ENTITY, OutboxItem, table,
};
pub use kms::KmsSealer;
pub use otp::Rfc6238;
pub use passwords::{Argon2Hasher, OsResetTokens};
pub use ses::SesEmailSender;
pub use system::{SystemClock, UuidV7Ids};
pub use tokens::{JwtIssuer, JwtVerifier, TokenAudience};
