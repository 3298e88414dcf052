use crate::aws_errors::AwsFailure;
use application::ports::{BoxError, EmailSendError, EmailSender, OutgoingEmail};
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
                .map_err(|error| EmailSendError::Rejected(error.into()))
        };
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(Body::builder().text(utf8(&email.text)?).build())
            .build();
        Ok(EmailContent::builder().simple(message).build())
    }
}

/// How long the readiness check waits: a service that cannot answer this sends nothing now.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl EmailSender for SesEmailSender {
    async fn ready(&self) -> Result<(), EmailSendError> {
        let unavailable = |error: BoxError| EmailSendError::Unavailable(error);
        match tokio::time::timeout(READY_TIMEOUT, self.client.get_account().send()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => {
                // Any answer but "later" (throttled, unreachable, timed out) shows the service
                // is there: a refusal of this call (no permission, no account details) is no
                // reason to hold the mail back.
                let failure = AwsFailure::from_sdk("SES GetAccount", &error);
                if failure.transient {
                    Err(unavailable(failure.into()))
                } else {
                    Ok(())
                }
            }
            Err(_elapsed) => Err(unavailable("SES GetAccount: timed out".into())),
        }
    }

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
                let failure = AwsFailure::from_sdk("SES SendEmail", &error);
                if failure.transient {
                    EmailSendError::Unavailable(failure.into())
                } else {
                    EmailSendError::Rejected(failure.into())
                }
            })?;
        Ok(())
    }
}
