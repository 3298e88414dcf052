//! Email: a plain-text message, the outbox it is recorded in, and the service that delivers it.
//!
//! No request sends email. A use case hands the messages its change causes to the write that
//! stores the change (an `outbox: &Outgoing` argument, with the change's events), and the
//! adapter MUST record them in the same atomic write: the change and its emails happen together or not at all. The
//! mailer (`DeliverEmails`) sends recorded messages afterwards and forgets each once sent.

use super::{BoxError, RepositoryError, SealedSecret, SecretContext, SecretPurpose, SecretSealer};
use domain::{Email, Timestamp, UserId};
use std::future::Future;

/// Where the secret of a message goes in its text. The message functions write it; the mailer
/// puts the opened secret in its place just before sending.
pub const SECRET_SLOT: &str = "[[secret]]";

/// A message for one recipient, in plain text. A message that carries a secret (a token)
/// holds it only sealed, with `SECRET_SLOT` in its text: the outbox item, its stream record and
/// any dead letter hold ciphertext, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub secret: Option<EmailSecret>,
}

/// The sealed secret of a message and the context it was sealed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSecret {
    pub sealed: SealedSecret,
    pub context: SecretContext,
}

impl EmailSecret {
    /// `token` sealed for `user_id` and `purpose`, for the email that carries it. A key
    /// service that does not answer is a store that does not: the request is a 503 and stores
    /// nothing.
    pub async fn seal(
        sealer: &impl SecretSealer,
        token: &str,
        user_id: UserId,
        purpose: SecretPurpose,
    ) -> Result<Self, RepositoryError> {
        let context = SecretContext { user_id, purpose };
        let sealed = sealer.seal(token.as_bytes(), context).await?;
        Ok(Self { sealed, context })
    }
}

impl OutgoingEmail {
    /// A message with no secret.
    pub fn new(to: Email, subject: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            to,
            subject: subject.into(),
            text: text.into(),
            secret: None,
        }
    }

    /// The message as sent: the opened secret in its slot. `None` when the text has no slot.
    pub fn revealed(self, secret: &str) -> Option<Self> {
        self.text.contains(SECRET_SLOT).then(|| Self {
            text: self.text.replacen(SECRET_SLOT, secret, 1),
            secret: None,
            ..self
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmailSendError {
    /// Throttled, timed out or unreachable: the next message would fare no better now.
    #[error("the mail service is unavailable")]
    Unavailable(#[source] BoxError),
    /// This message was refused (or could not be built); others may still go through.
    #[error("the mail service refused the message")]
    Rejected(#[source] BoxError),
}

/// An outbox item: a recorded message, waiting for the mailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEmail {
    /// The outbox item's id.
    pub id: String,
    pub email: OutgoingEmail,
    /// When the change that caused it was stored.
    pub recorded_at: Timestamp,
    /// The trace of the request that recorded it (an X-Ray header), which sending it joins.
    pub trace_header: Option<String>,
}

/// The mailer's side of the outbox.
pub trait Outbox: Send + Sync + 'static {
    /// Whether the item is still waiting: `false` once it was sent and forgotten.
    fn is_pending(&self, id: &str) -> impl Future<Output = Result<bool, RepositoryError>> + Send;

    /// Forgets a sent item; an item forgotten already is no error.
    fn forget(&self, id: &str) -> impl Future<Output = Result<(), RepositoryError>> + Send;
}

pub trait EmailSender: Send + Sync + 'static {
    /// Whether the mail service answers now, asked with a call that sends nothing. The mailer
    /// asks before a batch: a message handed to a service that stopped answering may still be
    /// sent when it recovers, after its retry has been sent too.
    fn ready(&self) -> impl Future<Output = Result<(), EmailSendError>> + Send;

    /// Hands the message to the mail service; `Ok` means it was accepted for delivery.
    fn send(
        &self,
        email: &OutgoingEmail,
    ) -> impl Future<Output = Result<(), EmailSendError>> + Send;
}
