//! The Users routes.

pub mod create;
pub mod email;
pub mod get;
pub mod lifecycle;
pub mod list;
pub mod role;
