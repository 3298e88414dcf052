//! The use cases of the Users API, one per route.

mod activate;
mod create;
mod delete;
mod get;
mod list;
pub(crate) mod modify;
mod record_login;
mod suspend;
mod update_email;

pub use activate::{ActivateUser, ActivateUserError};
pub use create::{CreateUser, CreateUserError, NewUser};
pub use delete::{DeleteUser, DeleteUserError};
pub use get::{GetUser, GetUserError};
pub use list::{ListUsers, ListUsersError};
pub use record_login::{RecordLogin, RecordLoginError};
pub use suspend::{SuspendUser, SuspendUserError};
pub use update_email::{ChangeEmail, UpdateUserEmail, UpdateUserEmailError};
