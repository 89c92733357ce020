//! The monitoring configs in `ops/` checked against the real tools and the real service:
//!
//! - `promtool check config`/`check rules`, `promtool test rules` (every alert fires above its
//!   threshold and stays silent just under it) and `amtool check-config` with its routes;
//! - the Grafana dashboards, Loki and Promtail files are well formed and consistent with the
//!   provisioning (neither Grafana nor Loki is packaged for Debian, so those are parsed);
//! - **the live check**: the real `atlantic` binary (PostgreSQL, Redis, an upstream exit), a
//!   real Prometheus (Debian's package) scraping it and a node exporter every second, traffic
//!   through both proxy ports and a sign-in; then every expression of the rules, the recording
//!   rules and every dashboard panel is queried through Prometheus's HTTP API. Each must
//!   evaluate and return a series, and every metric (and label) it names must be exported. A
//!   rule naming a metric the service does not export fails here.
//!
//! The tools come from Debian's `prometheus`, `prometheus-alertmanager` and
//! `prometheus-node-exporter` (`cargo xtask test` installs them). When one is missing the test
//! says so and passes, except in CI (`CI=true`), where it fails.

#![allow(clippy::unwrap_used)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod configs;
mod expressions;
mod live;
mod prometheus;
mod tools;
mod upstream;
