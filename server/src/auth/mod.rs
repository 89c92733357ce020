//! Sign-in state: server-side sessions in our database, the signed-in identity and the cap on
//! password hashing at once. (The limits on sign-in attempts are with every other web limit in
//! [`crate::http::rate_limit`].)

pub mod identity;
pub mod password_work;
pub mod recovery_codes;
pub mod second_factor;
pub mod session_store;
pub mod totp;

use std::time::Duration;

use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

pub use self::identity::{Identity, PendingSecondFactor, adopt_epoch, sign_in, sign_out};
pub use self::password_work::PasswordWork;
pub use self::session_store::DbSessionStore;

/// Shortest password accepted, at registration and from `atlantic user add` alike.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Longest email accepted anywhere (RFC 5321's 254 bytes for a path's address).
pub const MAX_EMAIL_LEN: usize = 254;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "atlantic_session";
/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);
/// A session ends this long after sign-in, however active it is.
pub const ABSOLUTE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The session middleware: an `HttpOnly`, `SameSite=Lax` cookie, `Secure` when `secure`
/// (production), expiring after [`IDLE_TIMEOUT`] of inactivity.
pub fn session_layer(store: DbSessionStore, secure: bool) -> SessionManagerLayer<DbSessionStore> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(IDLE_TIMEOUT.as_secs() as i64),
        ))
}
