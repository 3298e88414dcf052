//! get-user's floor as a Lambda: the empty Lambda around the bare `GetItem` of the user its
//! path names, with none of the service's code. Beside get-user it tells what the service's
//! code costs from what any Lambda reading one item costs here.
use lambda_http::RequestExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    let client = infrastructure::Aws::from_env().await.dynamodb();
    let table = std::env::var(infrastructure::TABLE_NAME)?;
    let (client, table) = (&client, &table);
    bench::run_bare_lambda(|request| async move {
        let parameters = request.path_parameters();
        let id = parameters
            .first("id")
            .ok_or_else(|| anyhow::anyhow!("no id"))?;
        anyhow::ensure!(bench::floors::read_user(client, table, id).await?);
        Ok(())
    })
    .await
}
