//! The publisher, fed by the table's stream: puts each event recorded in the outbox on the
//! service's EventBridge bus, then forgets it; names the records that failed, so only they are
//! delivered again.
use application::publishing::PublishEvents;
use infrastructure::{Aws, SystemClock, publisher};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    http_api::init_tracing();
    let aws = Aws::from_env().await;
    let publish = PublishEvents::new(aws.event_bus()?, aws.outbox()?, SystemClock);
    publisher::run(publish).await
}
