//! The one DynamoDB table and the repositories over it. `docs/dynamodb.md` describes the
//! design: keys, item types, and the access pattern of every route.

mod credentials;
mod cursor;
mod email_changes;
mod errors;
mod factors;
mod idempotency;
mod items;
mod listing;
mod logins;
mod orders;
mod outbox;
mod passkeys;
mod sessions;
pub mod table;
mod transactions;
mod users;

pub use credentials::DynamoCredentialRepository;
pub use idempotency::DynamoIdempotencyStore;
pub use items::ListingShards;
pub use orders::DynamoOrderRepository;
pub use outbox::{DynamoOutbox, EVENT_ENTITY, EventItem, OUTBOX_ENTITY, OutboxItem, event_detail};
pub use sessions::DynamoSessionRepository;
pub use users::DynamoUserRepository;
