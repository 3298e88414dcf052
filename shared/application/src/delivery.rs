//! The mailer: sends the emails recorded in the outbox, as the table's stream hands them over,
//! and forgets each once sent. Delivery is at least once: a message is sent again only when a
//! crash (or a failed forget) came between its send and its forget.
//!
//! Not a `UseCase`: nobody calls it, the stream does, so there is no caller to check.

use crate::ports::{
    BoxError, Clock, EmailSendError, EmailSender, Outbox, OutgoingEmail, PendingEmail, SecretSealer,
};
use tracing::Instrument;

/// One outbox item as the stream delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedEmail {
    /// The stream record's sequence number: what a failure names.
    pub sequence_number: String,
    pub pending: PendingEmail,
}

/// What became of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The sequence numbers of the records to deliver again, in batch order.
    pub failed: Vec<String>,
    pub sent: usize,
    /// Records whose item was forgotten already: sent by an earlier delivery.
    pub skipped: usize,
    /// How long the oldest message sent had waited since its change was stored.
    pub oldest_sent_age_ms: Option<i64>,
}

/// Sends through `S`, forgets in `O`, and opens the sealed secret of a message (a token)
/// with `K` just before sending it: the only place its plaintext exists after the request.
pub struct DeliverEmails<S, O, K, C> {
    sender: S,
    outbox: O,
    sealer: K,
    clock: C,
}

impl<S: EmailSender, O: Outbox, K: SecretSealer, C: Clock> DeliverEmails<S, O, K, C> {
    pub fn new(sender: S, outbox: O, sealer: K, clock: C) -> Self {
        Self {
            sender,
            outbox,
            sealer,
            clock,
        }
    }

    /// Delivers every record of the batch, in order, and names exactly the ones that failed.
    /// A refused message does not stop the records after it: each is its own message. An
    /// unavailable mail service does: the rest of the batch is failed unsent, since each would
    /// only wait out the same timeout, and is delivered again with it.
    pub async fn deliver(&self, batch: Vec<StreamedEmail>) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        if batch.is_empty() {
            return report;
        }
        if let Err(error) = self.sender.ready().await {
            tracing::warn!(error = %crate::error_chain(&error), "mail service unavailable; the batch is retried");
            report.failed = batch
                .into_iter()
                .map(|record| record.sequence_number)
                .collect();
            return report;
        }
        let mut records = batch.into_iter();
        while let Some(record) = records.next() {
            let joined = crate::joined_span("send-email", record.pending.trace_header.as_deref());
            match self.deliver_one(&record.pending).instrument(joined).await {
                Delivered::Unavailable => {
                    report.failed.push(record.sequence_number);
                    report
                        .failed
                        .extend(records.by_ref().map(|record| record.sequence_number));
                }
                Delivered::Sent => {
                    report.sent += 1;
                    let age = self.clock.now().as_millis() - record.pending.recorded_at.as_millis();
                    report.oldest_sent_age_ms = report.oldest_sent_age_ms.max(Some(age));
                }
                Delivered::AlreadySent => report.skipped += 1,
                Delivered::Failed => report.failed.push(record.sequence_number),
            }
        }
        report
    }

    async fn deliver_one(&self, pending: &PendingEmail) -> Delivered {
        match self.outbox.is_pending(&pending.id).await {
            Ok(true) => {}
            Ok(false) => return Delivered::AlreadySent,
            Err(error) => {
                tracing::warn!(outbox_id = %pending.id, error = %crate::error_chain(&error), "outbox unreadable; the email is retried");
                return Delivered::Failed;
            }
        }
        let email = match self.reveal(&pending.email).await {
            Ok(email) => email,
            Err(error) => {
                tracing::warn!(outbox_id = %pending.id, error = %crate::error_chain(&*error), "the email's secret could not be opened; it is retried, then dead-lettered");
                return Delivered::Failed;
            }
        };
        match self.sender.send(&email).await {
            Ok(()) => {}
            Err(error @ EmailSendError::Unavailable(_)) => {
                tracing::warn!(outbox_id = %pending.id, error = %crate::error_chain(&error), "mail service unavailable; the batch is retried");
                return Delivered::Unavailable;
            }
            Err(error @ EmailSendError::Rejected(_)) => {
                tracing::warn!(outbox_id = %pending.id, error = %crate::error_chain(&error), "email refused; it is retried, then dead-lettered");
                return Delivered::Failed;
            }
        }
        if let Err(error) = self.outbox.forget(&pending.id).await {
            // Sent, but still recorded: a later delivery of this record sends it once more.
            tracing::warn!(outbox_id = %pending.id, error = %crate::error_chain(&error), "sent email not forgotten");
        }
        Delivered::Sent
    }
}

impl<S: EmailSender, O: Outbox, K: SecretSealer, C: Clock> DeliverEmails<S, O, K, C> {
    /// The message as sent: its secret, if it has one, opened into its text.
    async fn reveal(&self, email: &OutgoingEmail) -> Result<OutgoingEmail, BoxError> {
        let Some(secret) = &email.secret else {
            return Ok(email.clone());
        };
        let plaintext = self.sealer.open(&secret.sealed, secret.context).await?;
        let plaintext = String::from_utf8(plaintext)?;
        email
            .clone()
            .revealed(&plaintext)
            .ok_or_else(|| "the message has no place for its secret".into())
    }
}

enum Delivered {
    Sent,
    AlreadySent,
    Failed,
    Unavailable,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{FakeSealer, FixedClock, InMemoryOutbox, InMemoryUsers, RecordingMailer};
    use crate::ports::Outgoing;
    use crate::ports::{
        EmailSecret, OutgoingEmail, SECRET_SLOT, SecretContext, SecretPurpose, UserRepository,
    };
    use domain::{Email, Timestamp, User, UserId, UserName};

    fn email(to: &str) -> OutgoingEmail {
        OutgoingEmail::new(Email::parse(to).unwrap(), "Hello", "Hello there.\n")
    }

    /// An outbox holding one message per address, recorded by a store's writes.
    async fn outbox_with(addresses: &[&str]) -> InMemoryOutbox {
        let users = InMemoryUsers::default();
        for address in addresses {
            let user = User::register(
                UserId::generate(),
                Email::parse(address).unwrap(),
                UserName::parse("Someone").unwrap(),
                FixedClock::default().now(),
            );
            users
                .insert(&user, &Outgoing::email(email(address)))
                .await
                .unwrap();
        }
        users.outbox().clone()
    }

    fn streamed(outbox: &InMemoryOutbox) -> Vec<StreamedEmail> {
        outbox
            .pending()
            .into_iter()
            .enumerate()
            .map(|(index, pending)| StreamedEmail {
                sequence_number: format!("{}", 100 + index),
                pending,
            })
            .collect()
    }

    type Mailer = DeliverEmails<RecordingMailer, InMemoryOutbox, FakeSealer, FixedClock>;

    fn mailer_of(sender: &RecordingMailer, outbox: &InMemoryOutbox) -> Mailer {
        mailer_opening_with(sender, outbox, FakeSealer::default())
    }

    fn mailer_opening_with(
        sender: &RecordingMailer,
        outbox: &InMemoryOutbox,
        sealer: FakeSealer,
    ) -> Mailer {
        DeliverEmails::new(
            sender.clone(),
            outbox.clone(),
            sealer,
            FixedClock::default(),
        )
    }

    /// An outbox holding one message whose token is sealed for `context`.
    async fn outbox_with_sealed_token(token: &str, context: SecretContext) -> InMemoryOutbox {
        let sealed = FakeSealer::default()
            .seal(token.as_bytes(), context)
            .await
            .unwrap();
        let message = OutgoingEmail {
            secret: Some(EmailSecret { sealed, context }),
            ..OutgoingEmail::new(
                Email::parse("ada@example.com").unwrap(),
                "Your token",
                format!("token={SECRET_SLOT}\n"),
            )
        };
        let users = InMemoryUsers::default();
        users
            .insert(
                &crate::fakes::user_with_email("ada@example.com"),
                &Outgoing::email(message),
            )
            .await
            .unwrap();
        users.outbox().clone()
    }

    #[tokio::test]
    async fn a_sealed_token_is_opened_into_its_message_only_when_it_is_sent() {
        let context = SecretContext {
            user_id: UserId::generate(),
            purpose: SecretPurpose::PasswordReset,
        };
        let outbox = outbox_with_sealed_token("s3cret-token", context).await;
        assert!(!outbox.emails()[0].text.contains("s3cret-token"));
        let sender = RecordingMailer::default();
        let report = mailer_of(&sender, &outbox).deliver(streamed(&outbox)).await;
        assert_eq!(report.sent, 1);
        let sent = sender.sent();
        assert_eq!(sent[0].text, "token=s3cret-token\n");
        assert_eq!(sent[0].secret, None);
    }

    #[tokio::test]
    async fn a_token_that_cannot_be_opened_is_not_sent_and_its_record_is_retried() {
        let context = SecretContext {
            user_id: UserId::generate(),
            purpose: SecretPurpose::EmailChange,
        };
        let outbox = outbox_with_sealed_token("s3cret-token", context).await;
        let sender = RecordingMailer::default();
        let down = mailer_opening_with(&sender, &outbox, FakeSealer::unavailable());
        let report = down.deliver(streamed(&outbox)).await;
        assert_eq!((report.sent, report.failed.len()), (0, 1));
        assert!(sender.sent().is_empty());
        assert_eq!(outbox.pending().len(), 1, "kept for the retry");

        let report = mailer_of(&sender, &outbox).deliver(streamed(&outbox)).await;
        assert_eq!(report.sent, 1, "the retry sends it once the key answers");
    }

    #[tokio::test]
    async fn a_token_sealed_for_someone_else_is_never_sent() {
        let sealed_for = SecretContext {
            user_id: UserId::generate(),
            purpose: SecretPurpose::PasswordReset,
        };
        let outbox = outbox_with_sealed_token("s3cret-token", sealed_for).await;
        let mut pending = outbox.pending();
        let secret = pending[0].email.secret.as_mut().unwrap();
        secret.context.user_id = UserId::generate();
        let batch = vec![StreamedEmail {
            sequence_number: "1".to_owned(),
            pending: pending.remove(0),
        }];
        let sender = RecordingMailer::default();
        let report = mailer_of(&sender, &outbox).deliver(batch).await;
        assert_eq!(report.failed, ["1"]);
        assert!(sender.sent().is_empty());
    }

    #[tokio::test]
    async fn every_message_is_sent_once_and_forgotten() {
        let outbox = outbox_with(&["a@example.com", "b@example.com"]).await;
        let sender = RecordingMailer::default();
        let batch = streamed(&outbox);
        let report = mailer_of(&sender, &outbox).deliver(batch.clone()).await;
        assert_eq!((report.sent, report.failed.len()), (2, 0));
        assert_eq!(
            sender.sent(),
            [email("a@example.com"), email("b@example.com")]
        );
        assert!(outbox.pending().is_empty());

        let again = mailer_of(&sender, &outbox).deliver(batch).await;
        assert_eq!(
            (again.sent, again.skipped),
            (0, 2),
            "a redelivered batch sends nothing twice"
        );
        assert_eq!(sender.sent().len(), 2);
    }

    #[tokio::test]
    async fn a_partial_failure_names_exactly_the_failed_records() {
        let outbox = outbox_with(&[
            "a@example.com",
            "refused@example.com",
            "c@example.com",
            "refused@example.org",
        ])
        .await;
        let sender = RecordingMailer::refusing("refused@");
        let report = mailer_of(&sender, &outbox).deliver(streamed(&outbox)).await;
        assert_eq!(report.failed, ["101", "103"]);
        assert_eq!(report.sent, 2);
        let left: Vec<String> = outbox
            .emails()
            .iter()
            .map(|email| email.to.to_string())
            .collect();
        assert_eq!(
            left,
            ["refused@example.com", "refused@example.org"],
            "the failed stay recorded"
        );
    }

    #[tokio::test]
    async fn a_permanent_rejection_fails_its_own_record_every_time_and_holds_back_no_other() {
        let outbox = outbox_with(&["refused@example.com", "b@example.com"]).await;
        let sender = RecordingMailer::refusing("refused@");
        let mailer = mailer_of(&sender, &outbox);
        // As the stream retries from the failed record: the rejection fails again, alone, and
        // the retries are bounded by the event source mapping (or the local poller), after
        // which the record goes to the dead-letter queue.
        let first = mailer.deliver(streamed(&outbox)).await;
        assert_eq!((first.failed.len(), first.sent), (1, 1));
        let retry = mailer.deliver(streamed(&outbox)).await;
        assert_eq!((retry.failed.len(), retry.sent, retry.skipped), (1, 0, 0));
        assert_eq!(sender.sent(), [email("b@example.com")]);
    }

    #[tokio::test]
    async fn an_unavailable_mail_service_fails_the_batch_with_nothing_handed_to_it() {
        let outbox = outbox_with(&["a@example.com", "b@example.com", "c@example.com"]).await;
        let sender = RecordingMailer::failing();
        let report = mailer_of(&sender, &outbox).deliver(streamed(&outbox)).await;
        assert_eq!(report.failed, ["100", "101", "102"]);
        assert_eq!(outbox.pending().len(), 3, "all still recorded");
    }

    #[tokio::test]
    async fn a_crash_between_send_and_forget_sends_once_more_at_most() {
        let outbox = outbox_with(&["a@example.com"]).await;
        let sender = RecordingMailer::default();
        let batch = streamed(&outbox);
        outbox.fail_next_forgets(1);
        let first = mailer_of(&sender, &outbox).deliver(batch.clone()).await;
        assert_eq!((first.sent, first.failed.len()), (1, 0), "sent is sent");
        let second = mailer_of(&sender, &outbox).deliver(batch.clone()).await;
        assert_eq!(second.sent, 1, "still recorded, so sent once more");
        let third = mailer_of(&sender, &outbox).deliver(batch).await;
        assert_eq!((third.sent, third.skipped), (0, 1));
        assert_eq!(sender.sent().len(), 2);
    }

    #[tokio::test]
    async fn the_age_of_the_oldest_message_sent_is_reported() {
        let outbox = outbox_with(&["a@example.com"]).await;
        let mut batch = streamed(&outbox);
        let now = FixedClock::default().now();
        batch[0].pending.recorded_at = Timestamp::from_millis(now.as_millis() - 1_500).unwrap();
        let report = mailer_of(&RecordingMailer::default(), &outbox)
            .deliver(batch)
            .await;
        assert_eq!(report.oldest_sent_age_ms, Some(1_500));
    }
}
