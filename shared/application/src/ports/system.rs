//! What the system supplies: the time and fresh ids.

use domain::{OrderId, Timestamp, UserId};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

pub trait IdGenerator: Send + Sync + 'static {
    /// A fresh id that sorts after every id this generator returned before.
    fn new_user_id(&self) -> UserId;

    /// A fresh order id, ordered like user ids.
    fn new_order_id(&self) -> OrderId;
}
