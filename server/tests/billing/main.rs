//! Billing through the real service and its built-in Paystack test double, on SQLite and
//! PostgreSQL: checkout, callback and webhook settle a payment exactly once; forged webhooks,
//! replays and mismatches change nothing; a Paystack outage opens the circuit and says so
//! ([`checkout`]), and a payment made during one is fulfilled once afterwards, a slow Paystack
//! never doubles one ([`paystack_faults`]); due periods renew once by charging the saved card,
//! a declined renewal ends in grace ([`renewal`]) after retries on day 1 and 2 of it
//! ([`dunning`]); a switch of plans mid-period credits the unused part ([`proration`]); subscription and invoice events act on the customer's plan
//! ([`events`]); the webhook source-IP allowlist ([`allowlist`]); a page rendered while another
//! service of this process starts ([`startup_race`]).

// A failed unwrap here is a failed test with its location, which is all it needs to say.
#![allow(clippy::unwrap_used)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod allowlist;
mod checkout;
mod dunning;
mod events;
mod paystack_faults;
mod proration;
mod renewal;
mod startup_race;
mod support;
mod switch;
