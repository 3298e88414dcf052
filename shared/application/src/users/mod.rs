//! The use cases of the Users API.

mod change;
mod create;
mod get;
mod list;
pub(crate) mod modify;
mod role;
mod update_email;

pub use change::{ChangeUser, Transition, UserChange, UserChangeError};
pub use create::{CreateUser, CreateUserError, NewUser};
pub use get::{GetUser, GetUserError, UserLookup};
pub use list::{ListUsers, ListUsersError};
pub use role::{ChangeRole, RoleChange};
pub use update_email::{ChangeEmail, UpdateUserEmail};
