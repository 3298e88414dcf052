//! The one DynamoDB table and the repositories over it. `docs/dynamodb.md` describes the
//! design: keys, item types, and the access pattern of every route.

mod cursor;
mod errors;
mod items;
pub mod table;
mod users;

pub use users::DynamoUserRepository;
