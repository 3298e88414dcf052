//! create-user's floor as a Lambda: the empty Lambda around the bare registration-shaped
//! `TransactWriteItems`, with none of the service's code. Beside create-user it tells what the
//! service's code costs from what any Lambda writing that transaction costs here.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let client = infrastructure::Aws::from_env().await.dynamodb();
    let table = std::env::var(infrastructure::TABLE_NAME)?;
    let started = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let written = AtomicU64::new(0);
    let (client, table, written) = (&client, &table, &written);
    bench::run_bare_lambda(|_| async move {
        let index = written.fetch_add(1, Ordering::Relaxed);
        let writes =
            bench::floors::registration_writes(table, &format!("lambda-{started}-{index}"))?;
        bench::floors::write_registration(client, writes).await
    })
    .await
}
