//! Server functions by area, with the wire types they return. Their server halves read the
//! `store::Db` that the server provides as context.

pub mod credentials;
pub mod plans;
pub mod session;
