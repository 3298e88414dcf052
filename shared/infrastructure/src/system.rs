use application::ports::{Clock, IdGenerator};
use domain::{OrderId, Timestamp, UserId};

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_user_id(&self) -> UserId {
        UserId::generate()
    }

    fn new_order_id(&self) -> OrderId {
        OrderId::generate()
    }
}
