//! Clients for the local stack that `make test` starts, and a fresh table per test so tests
//! run in parallel without seeing each other's data.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// test code: a failed unwrap is a failed test
// Each test file uses its own part of these helpers.
#![allow(dead_code)]

use application::ports::Outgoing;
use application::ports::{
    LoginStore, RefreshTokenRecord, ResetTokens, SessionOrigin, SessionRecord, UserRepository,
};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use domain::{AuthMethods, Email, SessionId, SessionProof, Timestamp, User, UserId, UserName};
use infrastructure::{
    DynamoCredentialRepository, DynamoOrderRepository, DynamoUserRepository, OsResetTokens,
    SesEmailSender, table,
};

pub fn dynamodb_url() -> String {
    std::env::var("DYNAMODB_URL").unwrap_or_else(|_| "http://127.0.0.1:8000".to_owned())
}

pub fn ses_url() -> String {
    std::env::var("SES_URL").unwrap_or_else(|_| "http://127.0.0.1:8005".to_owned())
}

pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
        .load()
        .await
}

pub async fn dynamodb_at(url: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config().await)
        .endpoint_url(url)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A table of its own for this test; returns the client and the table's name.
pub async fn fresh_table() -> (aws_sdk_dynamodb::Client, String) {
    let client = dynamodb_at(&dynamodb_url()).await;
    let name = format!("test-{}", uuid::Uuid::new_v4());
    table::create(&client, &name)
        .await
        .expect("DynamoDB Local is running (make test starts it)");
    (client, name)
}

/// A user repository over a table of its own, created for this test.
pub async fn fresh_repository() -> DynamoUserRepository {
    let (client, name) = fresh_table().await;
    DynamoUserRepository::new(client, name)
}

/// Order and user repositories over one table of their own, created for this test.
pub async fn fresh_order_repositories() -> (DynamoOrderRepository, DynamoUserRepository) {
    let (client, name) = fresh_table().await;
    let orders = DynamoOrderRepository::new(client.clone(), name.clone());
    (orders, DynamoUserRepository::new(client, name))
}

pub async fn ses_sender(sender: &str) -> SesEmailSender {
    let config = aws_sdk_sesv2::config::Builder::from(&sdk_config().await)
        .endpoint_url(ses_url())
        .build();
    SesEmailSender::new(
        aws_sdk_sesv2::Client::from_conf(config),
        Email::parse(sender).unwrap(),
    )
}

/// Credential and user repositories over one table of their own, created for this test.
pub async fn fresh_credential_repositories() -> (DynamoCredentialRepository, DynamoUserRepository) {
    let (client, name) = fresh_table().await;
    let credentials = DynamoCredentialRepository::new(client.clone(), name.clone());
    (credentials, DynamoUserRepository::new(client, name))
}

pub fn user(email: &str) -> User {
    User::register(
        UserId::generate(),
        Email::parse(email).unwrap(),
        UserName::parse("Ada Lovelace").unwrap(),
        Timestamp::now(),
    )
}

/// A session of `user` started now, and its first refresh token.
pub fn new_session(user: &User) -> (SessionRecord, RefreshTokenRecord) {
    let now = Timestamp::now();
    let proof = SessionProof {
        session: SessionId::start(now),
        auth_time: now,
        methods: AuthMethods::Password,
    };
    let session = SessionRecord {
        user_id: user.id(),
        id: proof.session,
        methods: proof.methods,
        last_used_at: now,
        origin: SessionOrigin::new(Some("curl/8.5.0"), Some("203.0.113.7")),
    };
    let first = RefreshTokenRecord {
        hash: OsResetTokens.issue().unwrap().hash,
        user_id: user.id(),
        proof,
        used: false,
    };
    (session, first)
}

/// The next refresh token of `token`'s session.
pub fn next_token(token: &RefreshTokenRecord) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: OsResetTokens.issue().unwrap().hash,
        used: false,
        ..token.clone()
    }
}

/// `user` registered and logged in, as a login stores it: the user as stored, its session
/// and the session's first refresh token.
pub async fn logged_in(
    users: &DynamoUserRepository,
    user: User,
) -> (User, SessionRecord, RefreshTokenRecord) {
    users.insert(&user, &Outgoing::nothing()).await.unwrap();
    let (session, first) = new_session(&user);
    let mut updated = user.clone();
    updated.record_login(Timestamp::now()).unwrap();
    let stored = users
        .record_login(&user, updated, &session, &first, user.email(), None)
        .await
        .unwrap();
    (stored, session, first)
}

/// moto's server, which plays KMS and SQS for the local stack.
pub fn moto_url() -> String {
    std::env::var("AWS_ENDPOINT_URL_KMS").unwrap_or_else(|_| "http://127.0.0.1:8006".to_owned())
}

pub async fn kms_at(url: &str) -> aws_sdk_kms::Client {
    let config = aws_sdk_kms::config::Builder::from(&sdk_config().await)
        .endpoint_url(url)
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

/// A KMS key of its own for this test, on moto; its id.
pub async fn fresh_key(kms: &aws_sdk_kms::Client) -> String {
    kms.create_key()
        .send()
        .await
        .expect("moto is running (make test starts it)")
        .key_metadata
        .unwrap()
        .key_id
}

pub async fn sqs() -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(&sdk_config().await)
        .endpoint_url(moto_url())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}
