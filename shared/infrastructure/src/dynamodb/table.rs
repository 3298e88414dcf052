//! The table's definition, in one place: the functions' repositories, `make run`'s
//! `create-table` and the adapter tests build from it, and a test holds `template.yaml` to it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

pub const PARTITION_KEY: &str = "pk";
pub const SORT_KEY: &str = "sk";

/// A secondary index: its name and its two key attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
}

/// Users by status, newest first: `GET /users?status=...`.
pub const USERS_BY_STATUS: Index = Index {
    name: "users_by_status",
    partition_key: "gsi1pk",
    sort_key: "gsi1sk",
};

/// Users that are not deleted, newest first: `GET /users` (sparse: deleted users leave it).
pub const LIVE_USERS: Index = Index {
    name: "live_users",
    partition_key: "gsi2pk",
    sort_key: "gsi2sk",
};

pub const INDEXES: [Index; 2] = [USERS_BY_STATUS, LIVE_USERS];

/// The table's stream carries each new item's image: the mailer reads outbox items from it.
pub const STREAM_VIEW_TYPE: StreamViewType = StreamViewType::NewImage;

/// Creates the table, on demand, with its indexes and its stream. Creating one that exists is
/// not an error.
pub async fn create(client: &Client, table_name: &str) -> Result<(), anyhow::Error> {
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
    };
    let string_attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .attribute_definitions(string_attribute(PARTITION_KEY)?)
        .attribute_definitions(string_attribute(SORT_KEY)?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(STREAM_VIEW_TYPE)
                .build()?,
        );
    for index in INDEXES {
        request = request
            .attribute_definitions(string_attribute(index.partition_key)?)
            .attribute_definitions(string_attribute(index.sort_key)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .key_schema(key(index.partition_key, KeyType::Hash)?)
                    .key_schema(key(index.sort_key, KeyType::Range)?)
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::KeysOnly)
                            .build(),
                    )
                    .build()?,
            );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        Err(SdkError::ServiceError(error)) if error.err().is_resource_in_use_exception() => Ok(()),
        Err(error) => Err(error.into()),
    }
}
