use crate::aws_errors::AwsFailure;
use application::ports::{EmailSendError, EmailSender, OutgoingEmail};
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use domain::Email;

/// Sends plain-text email through SES v2 from one configured sender address.
#[derive(Debug, Clone)]
pub struct SesEmailSender {
    client: Client,
    sender: Email,
}

impl SesEmailSender {
    pub fn new(client: Client, sender: Email) -> Self {
        Self { client, sender }
    }

    fn content(&self, email: &OutgoingEmail) -> Result<EmailContent, EmailSendError> {
        let utf8 = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|error| EmailSendError(error.into()))
        };
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(Body::builder().text(utf8(&email.text)?).build())
            .build();
        Ok(EmailContent::builder().simple(message).build())
    }
}

impl EmailSender for SesEmailSender {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), EmailSendError> {
        self.client
            .send_email()
            .from_email_address(self.sender.as_str())
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(self.content(email)?)
            .send()
            .await
            .map_err(|error| {
                EmailSendError(AwsFailure::from_sdk("SES SendEmail", &error).into())
            })?;
        Ok(())
    }
}
