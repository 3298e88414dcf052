use super::cursor::{self, Listed};
use super::errors::corrupt_item;
use super::items::{self, Item};
use super::outbox::outbox_writes;
use super::transactions::{TransactionError, transact};
use application::ports::{
    Cursor, OrderRepository, Outgoing, Page, PageError, PageLimit, RepositoryError,
};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::{
    Currency, LineRequest, Money, Order, OrderId, OrderStatus, Quantity, Sku, Timestamp, UserId,
};
use serde::{Deserialize, Serialize};

const ORDERS_PREFIX: &str = "ORDERS#";
const ORDER_PREFIX: &str = "ORDER#";

/// A user's orders: one partition per user, apart from the user item, so the functions that
/// place and read orders need no grant on users.
fn orders_partition(user_id: UserId) -> String {
    format!("{ORDERS_PREFIX}{user_id}")
}

fn order_key(user_id: UserId, order_id: OrderId) -> Item {
    items::key(
        orders_partition(user_id),
        &format!("{ORDER_PREFIX}{order_id}"),
    )
}

/// An order as stored: money as integer minor units in the order's one currency.
#[derive(Debug, Serialize, Deserialize)]
struct OrderItem {
    pk: String,
    sk: String,
    entity: String,
    id: String,
    user_id: String,
    status: String,
    currency: String,
    /// Stored for readers of the table; on reading, the lines are summed again and must agree.
    total_minor: i64,
    created_at: String,
    items: Vec<LineItem>,
}

#[derive(Debug, Serialize, Deserialize)]
struct LineItem {
    sku: String,
    quantity: u32,
    unit_price_minor: i64,
}

impl OrderItem {
    fn from_order(order: &Order) -> Self {
        Self {
            pk: orders_partition(order.user_id()),
            sk: format!("{ORDER_PREFIX}{}", order.id()),
            entity: "order".to_owned(),
            id: order.id().to_string(),
            user_id: order.user_id().to_string(),
            status: order.status().as_str().to_owned(),
            currency: order.currency().code().to_owned(),
            total_minor: order.total().minor_units(),
            created_at: order.created_at().to_rfc3339(),
            items: order
                .lines()
                .iter()
                .map(|line| LineItem {
                    sku: line.sku().as_str().to_owned(),
                    quantity: line.quantity().get(),
                    unit_price_minor: line.unit_price().minor_units(),
                })
                .collect(),
        }
    }

    fn into_order(self) -> Result<Order, RepositoryError> {
        let corrupt =
            |field: &str| corrupt_item(format!("order item {} has a bad {field}", self.sk));
        let currency = Currency::parse(&self.currency).map_err(|_| corrupt("currency"))?;
        let lines = self
            .items
            .iter()
            .map(|line| {
                Ok(LineRequest {
                    sku: Sku::parse(&line.sku).map_err(|_| corrupt("sku"))?,
                    quantity: Quantity::new(i64::from(line.quantity))
                        .map_err(|_| corrupt("quantity"))?,
                    unit_price: Money::from_minor(line.unit_price_minor, currency)
                        .map_err(|_| corrupt("unit price"))?,
                })
            })
            .collect::<Result<Vec<_>, RepositoryError>>()?;
        let order = Order::restore(
            OrderId::parse(&self.id).map_err(|_| corrupt("id"))?,
            UserId::parse(&self.user_id).map_err(|_| corrupt("user_id"))?,
            OrderStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            lines,
            Timestamp::parse_rfc3339(&self.created_at).ok_or_else(|| corrupt("created_at"))?,
        )
        .map_err(|_| corrupt("set of lines"))?;
        if order.total().minor_units() != self.total_minor {
            return Err(corrupt("total"));
        }
        Ok(order)
    }
}

fn to_order(item: Item) -> Result<Order, RepositoryError> {
    serde_dynamo::from_item::<_, OrderItem>(item)
        .map_err(|error| RepositoryError::Failed(error.into()))?
        .into_order()
}

fn orders_listing(user_id: UserId) -> String {
    format!("orders/{user_id}")
}

/// Orders in their user's item collection: one Query lists them, newest first.
#[derive(Debug, Clone)]
pub struct DynamoOrderRepository {
    client: Client,
    table: String,
}

impl DynamoOrderRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl OrderRepository for DynamoOrderRepository {
    async fn insert(&self, order: &Order, outbox: &Outgoing) -> Result<(), RepositoryError> {
        let item: Item = serde_dynamo::to_item(OrderItem::from_order(order))
            .map_err(|error| RepositoryError::Failed(error.into()))?;
        let mut writes = vec![items::put_new(&self.table, item)?];
        writes.extend(outbox_writes(&self.table, outbox)?);
        match transact(&self.client, writes).await {
            Ok(()) => Ok(()),
            Err(TransactionError::ConditionFailed { .. }) => Err(RepositoryError::Failed(
                "an order with this id exists".into(),
            )),
            Err(TransactionError::Conflict) => Err(RepositoryError::Unavailable(
                "a concurrent write held the order".into(),
            )),
            Err(TransactionError::Repository(error)) => Err(error),
        }
    }

    async fn find(
        &self,
        user_id: UserId,
        order_id: OrderId,
    ) -> Result<Option<Order>, RepositoryError> {
        let item = items::read(&self.client, &self.table, order_key(user_id, order_id)).await?;
        item.map(to_order).transpose()
    }

    async fn list(
        &self,
        user_id: UserId,
        limit: PageLimit,
        cursor: Option<&Cursor>,
    ) -> Result<Page<Order>, PageError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :partition AND begins_with(sk, :orders)")
            .expression_attribute_values(":partition", AttributeValue::S(orders_partition(user_id)))
            .expression_attribute_values(":orders", AttributeValue::S(ORDER_PREFIX.to_owned()))
            .consistent_read(true);
        cursor::page(request, orders_listing(user_id), cursor, limit, |after| {
            order_key(user_id, after)
        })
        .await
    }
}

impl Listed for Order {
    type Id = OrderId;

    fn parse_id(raw: &str) -> Option<OrderId> {
        OrderId::parse(raw).ok()
    }

    fn id(&self) -> OrderId {
        Order::id(self)
    }

    fn read(item: Item) -> Result<Self, RepositoryError> {
        to_order(item)
    }
}
