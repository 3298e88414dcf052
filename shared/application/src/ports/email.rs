//! Email: a plain-text message and the service that delivers it.

use super::BoxError;
use domain::Email;
use std::future::Future;

/// A message for one recipient, in plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub to: Email,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the email could not be sent")]
pub struct EmailSendError(#[source] pub BoxError);

pub trait EmailSender: Send + Sync + 'static {
    /// Hands the message to the mail service; `Ok` means it was accepted for delivery.
    fn send(
        &self,
        email: &OutgoingEmail,
    ) -> impl Future<Output = Result<(), EmailSendError>> + Send;
}
