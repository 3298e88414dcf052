//! Creates the service's table (named by `TABLE_NAME`) from the definition in
//! `infrastructure::table`; `make run` and `make test` call it against DynamoDB Local.
use infrastructure::{Aws, TABLE_NAME, table};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let table_name = std::env::var(TABLE_NAME)?;
    let aws = Aws::from_env().await;
    table::create(&aws.dynamodb(), &table_name).await?;
    tracing::info!(table = %table_name, "table ready");
    Ok(())
}
