//! The public REST API, `/api/v1`, on SQLite and PostgreSQL through the in-process service:
//! who gets in and with what ([`auth`]), each endpoint ([`account`], [`allowlist`], [`sessions`],
//! [`activity`], [`usage`], [`admin`]), the Settings server functions that make and revoke
//! tokens ([`tokens`]), the HTML reference ([`docs`]), schemathesis against the real
//! `atlantic serve` ([`schemathesis`], [`live`]) as the Python example of docs/api.md is
//! ([`python_example`]), and the OpenAPI document against
//! `docs/openapi.json` ([`openapi`]:
//! `UPDATE_OPENAPI=1 cargo test -p server --test api openapi` rewrites it).

#![allow(clippy::unwrap_used)] // a test fails loudly either way

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod account;
mod activity;
mod admin;
mod allowlist;
mod auth;
mod docs;
mod live;
mod openapi;
mod python_example;
mod schemathesis;
mod sessions;
mod support;
mod tokens;
mod usage;
