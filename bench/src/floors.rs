//! The floors: bare SDK round trips from one reused client, with no Lambda around them, to
//! the same DynamoDB Local and local SES the functions use.

use application::ports::Outgoing;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `GetItem` (strongly consistent, as the repositories read) of each user's item.
pub async fn get_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    user_ids: &[String],
) -> anyhow::Result<Vec<Duration>> {
    let mut durations = Vec::with_capacity(user_ids.len());
    for id in user_ids {
        let started = Instant::now();
        let found = read_user(client, table, id).await?;
        durations.push(started.elapsed());
        anyhow::ensure!(found, "user {id} is not in the table");
    }
    Ok(durations)
}

/// The floor's one `GetItem`: whether the user's item is there.
pub async fn read_user(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &str,
) -> anyhow::Result<bool> {
    let output = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("USER#{id}")))
        .key("sk", AttributeValue::S("PROFILE".to_owned()))
        .consistent_read(true)
        .send()
        .await?;
    Ok(output.item.is_some())
}

/// `TransactWriteItems` shaped like a registration: an item with a user's attributes and
/// index keys (in index partitions no listing reads), a claim, and an outbox item with a
/// welcome email's size, all conditional on not existing. (`entity=bench`, so no mailer would
/// take the outbox-shaped item for one.)
pub async fn transact_write_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    tag: &str,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut durations = Vec::with_capacity(count);
    for index in 0..count {
        let writes = registration_writes(table, &format!("{tag}-{index}"))?;
        let started = Instant::now();
        write_registration(client, writes).await?;
        durations.push(started.elapsed());
    }
    Ok(durations)
}

/// The floor's one `TransactWriteItems`.
pub async fn write_registration(
    client: &aws_sdk_dynamodb::Client,
    writes: Vec<TransactWriteItem>,
) -> anyhow::Result<()> {
    client
        .transact_write_items()
        .set_transact_items(Some(writes))
        .send()
        .await?;
    Ok(())
}

/// The three conditional puts of a registration-shaped transaction for `id`.
pub fn registration_writes(table: &str, id: &str) -> anyhow::Result<Vec<TransactWriteItem>> {
    let email = format!("floor-{id}@example.com");
    let user = item([
        ("pk", format!("BENCH#{id}")),
        ("sk", "PROFILE".to_owned()),
        ("entity", "bench".to_owned()),
        ("id", id.to_owned()),
        ("email", email.clone()),
        ("email_normalized", email.clone()),
        ("name", "Ada Lovelace".to_owned()),
        ("status", "active".to_owned()),
        ("created_at", "2026-11-24T00:00:00.000000Z".to_owned()),
        ("version", "1".to_owned()),
        ("gsi1pk", "BENCH-STATUS#active".to_owned()),
        ("gsi1sk", id.to_owned()),
        ("gsi2pk", "BENCH-LIVE".to_owned()),
        ("gsi2sk", id.to_owned()),
    ]);
    let claim = item([
        ("pk", format!("BENCH-CLAIM#{email}")),
        ("sk", "CLAIM".to_owned()),
        ("entity", "bench".to_owned()),
        ("user_id", id.to_owned()),
    ]);
    let outbox = item([
        ("pk", format!("BENCH-OUTBOX#{id}")),
        ("sk", "EMAIL".to_owned()),
        ("entity", "bench".to_owned()),
        ("id", id.to_owned()),
        ("to", email),
        ("subject", "Welcome aboard".to_owned()),
        ("text", WELCOME_TEXT.to_owned()),
        ("recorded_at", "2026-11-24T00:00:00.000000Z".to_owned()),
    ]);
    [user, claim, outbox]
        .into_iter()
        .map(|item| {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()?;
            Ok(TransactWriteItem::builder().put(put).build())
        })
        .collect()
}

/// The registration's write through the service's own adapter, timed with what the adapter
/// does around the call (the three items' serialization, the outbox id): what create-user
/// spends on its one transaction.
pub async fn user_insert(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    tag: &str,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    use application::ports::UserRepository;
    let users = infrastructure::DynamoUserRepository::new(client.clone(), table);
    let mut durations = Vec::with_capacity(count);
    for index in 0..count {
        let user = domain::User::register(
            domain::UserId::generate(),
            domain::Email::parse(&format!("floor-{tag}-{index}@example.com"))?,
            domain::UserName::parse("Ada Lovelace")?,
            domain::Timestamp::now(),
        );
        let welcome = application::messages::welcome(&user);
        let started = Instant::now();
        users
            .insert(&user, &Outgoing::email(welcome))
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        durations.push(started.elapsed());
    }
    Ok(durations)
}

/// A welcome email's text, for the outbox item's size.
const WELCOME_TEXT: &str = "Hello Ada Lovelace,\n\nYour account is ready and registered to floor@example.com.\n\n\
To choose your password, ask for a password-reset email for this address\n\
(POST /password-reset with {\"email\": \"floor@example.com\"}) and follow it.\n\n\
If you did not sign up, you can ignore this message.\n\nWelcome, and thank you for joining us.\n";

/// SES v2 `SendEmail` of a short text message, as the mailer sends the welcome email.
pub async fn send_email(
    client: &aws_sdk_sesv2::Client,
    sender: &str,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut durations = Vec::with_capacity(count);
    for index in 0..count {
        let text = |data: &str| Content::builder().data(data).charset("UTF-8").build();
        let message = Message::builder()
            .subject(text("Welcome")?)
            .body(Body::builder().text(text("Hello from the bench.")?).build())
            .build();
        let started = Instant::now();
        client
            .send_email()
            .from_email_address(sender)
            .destination(
                Destination::builder()
                    .to_addresses(format!("floor-{index}@example.com"))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await?;
        durations.push(started.elapsed());
    }
    Ok(durations)
}

/// Verifying an access token in-process, as every protected function does per request: the
/// JWK set is parsed once (at init, as the functions do), then each token is checked.
pub fn verify_token(authorization: &str, count: usize) -> anyhow::Result<Vec<Duration>> {
    use application::ports::AccessTokenVerifier;
    let variable =
        |name: &str| std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set"));
    let audience = infrastructure::TokenAudience {
        issuer: variable("JWT_ISSUER")?,
        audience: variable("JWT_AUDIENCE")?,
    };
    let verifier = infrastructure::JwtVerifier::new(&variable("JWT_PUBLIC_KEYS")?, audience)?;
    let token = authorization.trim_start_matches("Bearer ");
    let mut durations = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let claims = verifier.verify(token, domain::Timestamp::now());
        durations.push(started.elapsed());
        anyhow::ensure!(claims.is_ok(), "the bench's own token does not verify");
    }
    Ok(durations)
}

fn item<const N: usize>(attributes: [(&str, String); N]) -> HashMap<String, AttributeValue> {
    attributes
        .into_iter()
        .map(|(name, value)| (name.to_owned(), AttributeValue::S(value)))
        .collect()
}

/// Sealing a reset token as `request-password-reset` does (`KmsSealer`: one KMS `Encrypt`
/// with its encryption context), against the local KMS (moto): what a reset request pays
/// for keeping its token out of the table.
pub async fn kms_encrypt(
    sealer: &infrastructure::KmsSealer,
    count: usize,
) -> anyhow::Result<Vec<Duration>> {
    use application::ports::{SecretContext, SecretPurpose, SecretSealer};
    let context = SecretContext {
        user_id: domain::UserId::generate(),
        purpose: SecretPurpose::PasswordReset,
    };
    let token = [b'x'; 43];
    let mut durations = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        sealer.seal(&token, context).await?;
        durations.push(started.elapsed());
    }
    Ok(durations)
}

/// Building the KMS client from the loaded SDK settings, as a sealing function's init does
/// once: the first build in this process, then later ones.
pub fn kms_client_build(sdk: &aws_config::SdkConfig, count: usize) -> Vec<Duration> {
    (0..count)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(aws_sdk_kms::Client::new(sdk));
            started.elapsed()
        })
        .collect()
}
