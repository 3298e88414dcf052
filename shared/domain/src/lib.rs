//! The core of the service: entities and value objects with their rules.
//!
//! Nothing here does I/O or knows how values are serialized; every value object is built
//! through a fallible constructor, so holding one means holding a valid value.

mod email;
mod id;
mod money;
mod order;
mod passkey;
mod password;
mod session;
mod timestamp;
mod user;
mod user_name;

pub use email::{Email, EmailError};
pub use id::{CeremonyId, IdError, OrderId, PasskeyId, UserId};
pub use money::{AmountError, Currency, CurrencyError, Money, MoneyArithmeticError};
pub use order::{
    LineRequest, Order, OrderError, OrderLine, OrderStatus, Quantity, QuantityError, Sku, SkuError,
};
pub use passkey::{PasskeyName, PasskeyNameError};
pub use password::{Password, PasswordError, PasswordHash};
pub use session::{AuthMethods, SessionId, SessionProof};
pub use timestamp::Timestamp;
pub use user::{
    Changed, LoginRefused, Role, User, UserIsDeleted, UserSnapshot, UserStatus, Version,
};
pub use user_name::{UserName, UserNameError};
