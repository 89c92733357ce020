//! One module per route, named after its URL.

pub mod activity;
pub mod admin;
pub mod billing;
pub mod login;
pub mod login_code;
pub mod not_found;
pub mod register;
pub mod servers;
pub mod settings;
pub mod statistics;
pub mod usage;
