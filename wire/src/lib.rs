//! The contract between the gateway and its customers, in one place so the gateway (`proxy`),
//! the dashboard (`app`, server and browser side) and the service (`server`) cannot disagree:
//! the error codes with everything each means on the wire and to the customer
//! ([`ErrorCode`]), and the proxy username grammar, parsed and built ([`username`]).
//!
//! Plain `std`, no dependencies, so it compiles for wasm32 as it is.

mod error_code;
pub mod username;

pub use error_code::ErrorCode;
