//! Server functions by area, with the wire types they return. Their server halves read the
//! `store::Db` that the server provides as context.

pub mod admin;
pub mod billing;
pub mod credentials;
#[cfg(feature = "ssr")]
pub mod guard;
pub mod plans;
pub mod security;
pub mod session;
