//! The Orders routes.

pub mod get;
pub mod list;
pub mod place;
