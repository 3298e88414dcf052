//! Following the table's stream: every shard from its oldest record, resuming after the last
//! record handled when an iterator expires or DynamoDB Local stops answering for a while.

use crate::delivery::{DeadLetters, Delivery, Invoker};
use aws_config::{BehaviorVersion, Region};
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How long to wait when the stream has nothing new, and after a failed call.
const IDLE: Duration = Duration::from_millis(200);
const AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Where one shard is read from next.
#[derive(Default)]
struct ShardPosition {
    iterator: Option<String>,
    /// The last record handed over (or skipped), to resume after.
    last_sequence_number: Option<String>,
}

/// Follows the stream of `table`, handing the inserted outbox items of `entity` (as the
/// template's filter of the consumer selects them) to `delivery`.
pub async fn follow<I: Invoker, D: DeadLetters>(
    dynamodb_url: &str,
    table: &str,
    entity: &str,
    delivery: &Delivery<I, D>,
) -> anyhow::Result<()> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(
            std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned()),
        ))
        .endpoint_url(dynamodb_url)
        // A frozen DynamoDB Local must not hang the poller: each call gives up and is retried.
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(5))
                .build(),
        )
        .load()
        .await;
    let tables = aws_sdk_dynamodb::Client::new(&config);
    let streams = Client::new(&config);
    let stream_arn = loop {
        match tables.describe_table().table_name(table).send().await {
            Ok(output) => {
                if let Some(arn) = output.table().and_then(|t| t.latest_stream_arn()) {
                    break arn.to_owned();
                }
                anyhow::bail!("table {table} has no stream: it must be created with one");
            }
            Err(error) => {
                tracing::warn!("waiting for table {table}: {error}");
                tokio::time::sleep(AFTER_FAILURE).await;
            }
        }
    };
    tracing::info!("following the stream of {table}, {entity} items to their consumer");
    let mut positions: BTreeMap<String, ShardPosition> = BTreeMap::new();
    let mut closed: BTreeSet<String> = BTreeSet::new();
    loop {
        match streams
            .describe_stream()
            .stream_arn(&stream_arn)
            .send()
            .await
        {
            Ok(output) => {
                for shard in output
                    .stream_description()
                    .map(|description| description.shards())
                    .unwrap_or_default()
                {
                    if let Some(id) = shard.shard_id()
                        && !closed.contains(id)
                    {
                        positions.entry(id.to_owned()).or_default();
                    }
                }
            }
            Err(error) => {
                tracing::warn!("the stream cannot be described ({error}); retrying");
                tokio::time::sleep(AFTER_FAILURE).await;
                continue;
            }
        }
        let mut handed_over = 0;
        for (shard_id, position) in positions.iter_mut() {
            match read_shard(&streams, &stream_arn, shard_id, entity, position, delivery).await {
                Ok(Some(count)) => handed_over += count,
                Ok(None) => {
                    closed.insert(shard_id.clone());
                }
                Err(error) => {
                    tracing::warn!("reading shard {shard_id} failed ({error}); resuming");
                    position.iterator = None;
                    tokio::time::sleep(AFTER_FAILURE).await;
                }
            }
        }
        positions.retain(|id, _| !closed.contains(id));
        if handed_over == 0 {
            tokio::time::sleep(IDLE).await;
        }
    }
}

/// One read of one shard: how many records it handed over, or `None` once the shard is closed
/// and read to its end.
async fn read_shard<I: Invoker, D: DeadLetters>(
    streams: &Client,
    stream_arn: &str,
    shard_id: &str,
    entity: &str,
    position: &mut ShardPosition,
    delivery: &Delivery<I, D>,
) -> anyhow::Result<Option<usize>> {
    let iterator = match position.iterator.clone() {
        Some(iterator) => iterator,
        None => {
            let request = streams
                .get_shard_iterator()
                .stream_arn(stream_arn)
                .shard_id(shard_id);
            let request = match &position.last_sequence_number {
                Some(after) => request
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(after),
                None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            match request.send().await?.shard_iterator {
                Some(iterator) => iterator,
                None => return Ok(None),
            }
        }
    };
    let output = streams
        .get_records()
        .shard_iterator(iterator)
        .limit(100)
        .send()
        .await?;
    let records = output.records();
    if let Some(last) = records.last() {
        position.last_sequence_number = last
            .dynamodb()
            .and_then(|change| change.sequence_number())
            .map(str::to_owned);
    }
    let outbox: Vec<EventRecord> = records
        .iter()
        .filter_map(|record| outbox_insert(record, entity, stream_arn))
        .collect();
    let count = outbox.len();
    if !outbox.is_empty() {
        delivery.deliver(outbox).await;
    }
    position.iterator = output.next_shard_iterator;
    if position.iterator.is_none() {
        return Ok(None);
    }
    Ok(Some(count))
}

/// The record as Lambda would deliver it, when it is an inserted outbox item of `entity`: the
/// template's filter, `eventName` INSERT and `NewImage.entity`.
fn outbox_insert(record: &Record, entity: &str, stream_arn: &str) -> Option<EventRecord> {
    let change = record.dynamodb()?;
    let image = change.new_image()?;
    let is_outbox = image
        .get("entity")
        .and_then(|entity| entity.as_s().ok())
        .is_some_and(|value| value == entity);
    let inserted = record
        .event_name()
        .is_some_and(|name| name.as_str() == "INSERT");
    if !(is_outbox && inserted) {
        return None;
    }
    let item = |attributes: &std::collections::HashMap<
        String,
        aws_sdk_dynamodbstreams::types::AttributeValue,
    >| {
        serde_dynamo::Item::from(
            attributes
                .iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        serde_dynamo::AttributeValue::from(value.clone()),
                    )
                })
                .collect::<std::collections::HashMap<_, _>>(),
        )
    };
    let mut event = EventRecord::default();
    event.event_id = record.event_id().unwrap_or_default().to_owned();
    event.event_name = "INSERT".to_owned();
    event.event_source = Some("aws:dynamodb".to_owned());
    event.event_version = record.event_version().map(str::to_owned);
    event.aws_region = record.aws_region().unwrap_or("us-east-1").to_owned();
    event.event_source_arn = Some(stream_arn.to_owned());
    event.change.keys = change.keys().map(item).unwrap_or_default();
    event.change.new_image = item(image);
    event.change.sequence_number = change.sequence_number().map(str::to_owned);
    if let Some(created) = change
        .approximate_creation_date_time()
        .and_then(|at| chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos()))
    {
        event.change.approximate_creation_date_time = created;
    }
    event.change.size_bytes = change.size_bytes().unwrap_or_default();
    Some(event)
}
