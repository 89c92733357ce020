//! The dashboard: Leptos pages and components, rendered on the server (`ssr`) and hydrated in
//! the browser (`hydrate`), plus the server functions and the wire types they exchange.

pub mod api;
#[cfg(feature = "ssr")]
mod charts;
pub mod components;
pub mod format;
pub mod outcome;
pub mod pages;
mod root;
#[cfg(feature = "ssr")]
mod shell;

pub use root::App;
#[cfg(feature = "ssr")]
pub use shell::{Assets, shell};
