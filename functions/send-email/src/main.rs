//! The mailer, fed by the table's stream: sends each email recorded in the outbox through SES,
//! then forgets it; names the records that failed, so only they are delivered again.
use application::delivery::DeliverEmails;
use infrastructure::{Aws, SystemClock, mailer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let deliver = DeliverEmails::new(
        aws.email_sender()?,
        aws.outbox()?,
        aws.secret_sealer()?,
        SystemClock,
    );
    mailer::run(deliver).await
}
