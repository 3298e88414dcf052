//! Index writes, counted. DynamoDB tells what a write cost each index when asked
//! (`ReturnConsumedCapacity=INDEXES`; DynamoDB Local too): this interceptor asks on every
//! write and keeps, per write, the index units and the index partition keys of the items it
//! put. Adapter tests read it in memory to prove which writes leave the listing indexes alone;
//! with `RECORD_INDEX_WRITES=true` (`make load`) a function prints one JSON line per write, for
//! the load report's units per request and busiest index key.

use crate::table::INDEXES;
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity, ReturnConsumedCapacity};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

/// What one write cost the indexes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct IndexWrite {
    pub operation: &'static str,
    /// Index name → write units; empty when the write touched no index.
    pub units: BTreeMap<String, f64>,
    /// The index partition keys of the items the write put whole (puts, and a transaction's
    /// puts): where an index item was written, when one was.
    pub partitions: Vec<String>,
}

impl IndexWrite {
    pub fn total(&self) -> f64 {
        self.units.values().sum()
    }
}

#[derive(Debug, Clone)]
enum Sink {
    Memory(Arc<Mutex<Vec<IndexWrite>>>),
    Stdout { function: String },
}

#[derive(Debug, Clone)]
pub struct IndexWriteRecorder {
    sink: Sink,
}

/// The index partition keys a write's input puts, from serialization to the response.
#[derive(Debug)]
struct PutPartitions(Vec<String>);

impl Storable for PutPartitions {
    type Storer = StoreReplace<Self>;
}

impl IndexWriteRecorder {
    /// Keeps the writes for `take`.
    pub fn in_memory() -> Self {
        Self {
            sink: Sink::Memory(Arc::default()),
        }
    }

    /// When `RECORD_INDEX_WRITES` is `true`: JSON lines on stdout, named by the function.
    pub fn from_env() -> Option<Self> {
        let on = std::env::var("RECORD_INDEX_WRITES").is_ok_and(|value| value == "true");
        on.then(|| Self {
            sink: Sink::Stdout {
                function: std::env::var(crate::config::AWS_LAMBDA_FUNCTION_NAME)
                    .unwrap_or_default(),
            },
        })
    }

    /// The writes recorded since the last `take` (in memory; nothing on stdout).
    pub fn take(&self) -> Vec<IndexWrite> {
        match &self.sink {
            Sink::Memory(writes) => {
                std::mem::take(&mut *writes.lock().unwrap_or_else(PoisonError::into_inner))
            }
            Sink::Stdout { .. } => Vec::new(),
        }
    }

    fn record(&self, write: IndexWrite) {
        match &self.sink {
            Sink::Memory(writes) => writes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(write),
            Sink::Stdout { function } => {
                let line = serde_json::json!({ "index_write": write, "function": function });
                // Best effort, like the metrics lines: a lost line skews a report, not a call.
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
        }
    }
}

fn index_partitions(item: Option<&HashMap<String, AttributeValue>>) -> Vec<String> {
    let Some(item) = item else {
        return Vec::new();
    };
    INDEXES
        .iter()
        .filter_map(|index| item.get(index.partition_key))
        .filter_map(|value| value.as_s().ok().cloned())
        .collect()
}

fn index_units(capacities: &[ConsumedCapacity]) -> BTreeMap<String, f64> {
    let mut units = BTreeMap::new();
    for capacity in capacities {
        for (index, consumed) in capacity.global_secondary_indexes().into_iter().flatten() {
            *units.entry(index.clone()).or_default() += consumed.capacity_units().unwrap_or(0.0);
        }
    }
    units
}

impl Intercept for IndexWriteRecorder {
    fn name(&self) -> &'static str {
        "IndexWriteRecorder"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        let indexes = Some(ReturnConsumedCapacity::Indexes);
        let partitions = if let Some(put) = input.downcast_mut::<PutItemInput>() {
            put.return_consumed_capacity = indexes;
            index_partitions(put.item.as_ref())
        } else if let Some(update) = input.downcast_mut::<UpdateItemInput>() {
            update.return_consumed_capacity = indexes;
            Vec::new()
        } else if let Some(delete) = input.downcast_mut::<DeleteItemInput>() {
            delete.return_consumed_capacity = indexes;
            Vec::new()
        } else if let Some(transaction) = input.downcast_mut::<TransactWriteItemsInput>() {
            transaction.return_consumed_capacity = indexes;
            transaction
                .transact_items
                .iter()
                .flatten()
                .filter_map(|write| write.put())
                .flat_map(|put| index_partitions(Some(put.item())))
                .collect()
        } else {
            return Ok(());
        };
        cfg.interceptor_state().store_put(PutPartitions(partitions));
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        let (operation, capacities): (&'static str, Vec<ConsumedCapacity>) =
            if let Some(put) = output.downcast_ref::<PutItemOutput>() {
                ("PutItem", put.consumed_capacity.iter().cloned().collect())
            } else if let Some(update) = output.downcast_ref::<UpdateItemOutput>() {
                (
                    "UpdateItem",
                    update.consumed_capacity.iter().cloned().collect(),
                )
            } else if let Some(delete) = output.downcast_ref::<DeleteItemOutput>() {
                (
                    "DeleteItem",
                    delete.consumed_capacity.iter().cloned().collect(),
                )
            } else if let Some(transaction) = output.downcast_ref::<TransactWriteItemsOutput>() {
                (
                    "TransactWriteItems",
                    transaction.consumed_capacity.clone().unwrap_or_default(),
                )
            } else {
                return Ok(());
            };
        let units = index_units(&capacities);
        let partitions = if units.is_empty() {
            Vec::new()
        } else {
            cfg.load::<PutPartitions>()
                .map(|stored| stored.0.clone())
                .unwrap_or_default()
        };
        self.record(IndexWrite {
            operation,
            units,
            partitions,
        });
        Ok(())
    }
}
