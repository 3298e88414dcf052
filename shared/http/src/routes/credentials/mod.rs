//! The Credentials routes: password reset by email, and login.

pub mod login;
pub mod passkey;
pub mod password;
pub mod reset;
pub mod session;
