//! Several `atlantic serve` processes on one PostgreSQL and one Redis: two gateway nodes and
//! a web node, each its own process on its own ports, as an operator would run them. The
//! limits, quotas, sticky sessions and credential changes hold across the gateways, a node
//! killed with SIGKILL leaves the others serving, and the billing pass runs on one node at a
//! time. Runs on the real PostgreSQL and Redis (both required when `CI=true`).

#![allow(clippy::unwrap_used)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod clients;
mod jobs;
mod limits;
mod live;
mod nodes;
mod origin;
mod resilience;
mod sessions;
