//! The use cases of the Users API.

mod change;
mod confirm_email;
mod create;
mod get;
mod list;
pub(crate) mod modify;
mod role;
mod update_email;

pub use change::{ChangeUser, Transition, UserChange, UserChangeError};
pub use confirm_email::{ConfirmEmailChange, ConfirmEmailChangeError, EmailChangeConfirmation};
pub use create::{CreateUser, CreateUserError, NewUser};
pub use get::{GetUser, GetUserError, UserLookup};
pub use list::{ListUsers, ListUsersError, UserSearch};
pub use role::{ChangeRole, RoleChange};
pub use update_email::{
    ChangeEmail, EMAIL_CHANGE_TOKEN_LIFETIME_SECONDS, EmailChange, UpdateUserEmail,
};
