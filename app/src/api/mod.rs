//! Server functions by area, with the wire types they return. Their server halves read the
//! `store::Db` that the server provides as context.

#[cfg(feature = "ssr")]
pub mod access;
pub mod activity;
pub mod admin;
pub mod billing;
pub mod credentials;
pub mod hints;
pub mod live;
pub mod plans;
pub mod preferences;
pub mod probe;
pub mod security;
pub mod servers;
pub mod session;
pub mod sessions;
pub mod tokens;
pub mod traffic;
pub mod usage;
#[cfg(feature = "ssr")]
pub mod zone;
