//! The Users routes.

pub mod create;
pub mod email;
pub mod email_confirm;
pub mod get;
pub mod lifecycle;
pub mod list;
pub mod mfa;
pub mod passkeys;
pub mod role;
pub mod sessions;
