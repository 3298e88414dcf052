//! Administrators, outside the API (which only lets an admin make another):
//!
//!   admin ensure EMAIL PASSWORD   the local stack: an active admin with this password exists
//!                                 (created if missing; idempotent, run on every start)
//!   admin promote EMAIL           a deployment, with AWS credentials: an existing user becomes
//!                                 an admin (its new role shows from its next login or refresh)
//!   admin redrive                 empties the mailer's dead-letter queue
//!                                 (`DEAD_LETTER_QUEUE_URL`) and the publisher's
//!                                 (`EVENT_DEAD_LETTER_QUEUE_URL`, when set): the emails and
//!                                 events their messages stand for, still in the outbox, go to
//!                                 the mailer and the publisher again
//!
//! They act on the table named by `TABLE_NAME`, through the same adapters as the functions.
use application::ports::{
    Change, CredentialRepository, DomainEvent, Outgoing, PasswordChangedBy, PasswordHasher,
    ResetTokenRecord, ResetTokens, UserRepository,
};
use domain::{Email, Password, Role, Timestamp, User, UserId, UserName};
use infrastructure::{Argon2Hasher, Aws, OsResetTokens};
use std::io::Write;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let aws = Aws::from_env().await;
    let users = aws.user_repository()?;
    match args.as_slice() {
        [command, email, password] if command == "ensure" => {
            let email = Email::parse(email)?;
            let password = Password::parse(password)?;
            let admin = ensure_admin(&users, &email).await?;
            set_password(&aws, &admin, &password).await?;
            writeln!(std::io::stdout(), "admin {} ready", admin.email())?;
        }
        [command, email] if command == "promote" => {
            let email = Email::parse(email)?;
            let user = users
                .find_by_email(&email)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user with this address"))?;
            make_admin(&users, user, false).await?;
            writeln!(std::io::stdout(), "{email} is an admin")?;
        }
        [command] if command == "redrive" => {
            let queues = [
                Some(aws.dead_letter_queue()?),
                aws.event_dead_letter_queue(),
            ];
            for queue in queues.into_iter().flatten() {
                let redriven = queue
                    .redrive(&aws.outbox()?)
                    .await
                    .map_err(|error| anyhow::anyhow!(error))?;
                writeln!(
                    std::io::stdout(),
                    "{}: {} dead letter(s) read, {} outbox item(s) handed over again",
                    queue.url(),
                    redriven.messages,
                    redriven.emails
                )?;
                if redriven.unreadable > 0 {
                    writeln!(
                        std::io::stdout(),
                        "{} message(s) on the queue are not on-failure records; left there",
                        redriven.unreadable
                    )?;
                }
            }
        }
        _ => anyhow::bail!(
            "usage: admin ensure EMAIL PASSWORD | admin promote EMAIL | admin redrive"
        ),
    }
    Ok(())
}

async fn ensure_admin(users: &impl UserRepository, email: &Email) -> anyhow::Result<User> {
    let user = match users.find_by_email(email).await? {
        Some(user) => user,
        None => {
            let user = User::register(
                UserId::generate(),
                email.clone(),
                UserName::parse("Local Admin")?,
                Timestamp::now(),
            );
            // Published like any registration: consumers hear of every account.
            let registered = Outgoing::nothing().and([DomainEvent::registered(&user)]);
            users.insert(&user, &registered).await?;
            user
        }
    };
    make_admin(users, user, true).await
}

/// The user as an admin; `activate` also lifts a suspension (the local admin must work).
async fn make_admin(
    users: &impl UserRepository,
    user: User,
    activate: bool,
) -> anyhow::Result<User> {
    let mut admin = user.clone();
    admin.change_role(Role::Admin)?;
    if activate {
        admin.activate()?;
    }
    if admin == user {
        return Ok(user);
    }
    let outbox = Outgoing::of_update(&user, &admin, Vec::new());
    Ok(users.update(&user, admin, &outbox).await?)
}

/// Through a reset token, as a user would: the address counts as verified.
async fn set_password(aws: &Aws, admin: &User, password: &Password) -> anyhow::Result<()> {
    let credentials = aws.credential_repository()?;
    let hasher = Argon2Hasher::default();
    if let Some(current) = credentials.password_hash(admin.id()).await?
        && hasher.verify(password.expose(), &current)
    {
        return Ok(());
    }
    let issued = OsResetTokens
        .issue()
        .map_err(|error| anyhow::anyhow!(error))?;
    let now = Timestamp::now();
    let record = ResetTokenRecord {
        hash: issued.hash,
        user_id: admin.id(),
        sent_to: admin.email().clone(),
        expires_at: now
            .plus_seconds(application::credentials::RESET_TOKEN_LIFETIME_SECONDS)
            .ok_or_else(|| anyhow::anyhow!("clock out of range"))?,
    };
    credentials.save_reset_token(&record).await?;
    let changed = Change::UserPasswordChanged {
        by: PasswordChangedBy::Reset,
    };
    let outbox = Outgoing::nothing().and([DomainEvent::next_of(admin, changed)]);
    credentials
        .redeem_reset_token(&record, admin, &hasher.hash(password)?, now, &outbox)
        .await?;
    Ok(())
}
