//! The data layer: one pool chosen by URL (SQLite or PostgreSQL), the migration runner, and one
//! module per aggregate.
//!
//! Every query is written once with `$1`-style placeholders and runs through sqlx's `Any`
//! driver on both engines. That works only with column types `Any` can read on both: times are
//! BIGINT epoch milliseconds, flags are 0/1 integers, everything else TEXT or BIGINT. Functions
//! take the current time as `now_ms` instead of reading the clock, so callers and tests control
//! it; [`now_ms`] is the clock they use.

mod db;
mod error;
mod ids;
pub mod sealing;
pub mod secrets;

pub mod accounts;
pub mod activity;
pub mod allowlist;
pub mod api_tokens;
pub mod backup;
pub mod backups;
pub mod credentials;
pub mod exits;
pub mod job_lock;
pub mod payments;
pub mod plans;
pub mod quota;
pub mod sessions;
pub mod subscriptions;
pub mod usage;

#[cfg(feature = "test-support")]
pub mod test_support;

use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

pub use db::{Backend, Db, PoolStats, SessionPool, redact_url, sqlite_file};
pub use error::StoreError;
pub use ids::{
    AccountId, ActivityId, AllowlistEntryId, ExitId, PaymentId, PlanId, RecoveryCodeId,
    SubscriptionId, WebhookEventId,
};
pub use sealing::{Column, Keyring, SealError};

/// Result alias for everything in this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One hour in milliseconds: the bucket size of the usage tables.
pub const HOUR_MS: i64 = 3_600_000;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// The current time as Unix epoch milliseconds, the unit of every time column.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A page of a list, newest or first items at offset 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    /// How many rows at most; clamped to `1..=Page::MAX_LIMIT`.
    pub limit: i64,
    /// How many rows to skip; negative counts as 0.
    pub offset: i64,
}

impl Page {
    /// The largest page any list returns.
    pub const MAX_LIMIT: i64 = 500;

    /// A page of `limit` rows starting at `offset`.
    pub fn new(limit: i64, offset: i64) -> Self {
        Self { limit, offset }
    }

    /// The first `limit` rows.
    pub fn first(limit: i64) -> Self {
        Self { limit, offset: 0 }
    }

    fn limit(self) -> i64 {
        self.limit.clamp(1, Self::MAX_LIMIT)
    }

    fn offset(self) -> i64 {
        self.offset.max(0)
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::first(50)
    }
}

/// A 0/1 integer column read as a flag (BOOLEAN cannot be decoded by `Any` on SQLite): row
/// types mark such fields `#[sqlx(try_from = "Flag")]`.
#[derive(sqlx::Type)]
#[sqlx(transparent, no_pg_array)]
struct Flag(i64);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0 != 0
    }
}

/// Decodes a TEXT column into a type whose `FromStr` names what it accepts, for the `Decode`
/// impls of text-backed columns (enums, networks).
fn decode_parsed<T>(value: sqlx::any::AnyValueRef<'_>) -> Result<T, sqlx::error::BoxDynError>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text = <&str as sqlx::Decode<'_, sqlx::Any>>::decode(value)?;
    Ok(text.parse::<T>()?)
}

/// `NotFound` when a statement that names one row by its key changed none.
fn found(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// A flag as the 0/1 integer the schema stores.
fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// Declares a text-backed enum with `as_str`, `Display`, `FromStr`, serde in lower case, and
/// decoding from its column.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        // Read straight from its TEXT column, so row types derive `FromRow`.
        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <String as sqlx::Type<sqlx::Any>>::type_info()
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(
                value: sqlx::any::AnyValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                $crate::decode_parsed(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::StoreError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err($crate::StoreError::Invalid(format!(
                        concat!("unknown ", stringify!($name), " `{}`"),
                        other
                    ))),
                }
            }
        }
    };
}
pub(crate) use text_enum;
