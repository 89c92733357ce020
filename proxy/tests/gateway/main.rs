//! End-to-end tests of the gateway with real clients (raw sockets, reqwest, curl) against a
//! local origin, echo server and upstream gateways. All traffic stays on 127.0.0.1.

mod destinations;
mod errors;
mod exit_faults;
mod exits;
mod fairness;
mod http;
mod metering;
mod rights;
mod socks;
mod support;
