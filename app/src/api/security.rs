//! The account-security part of Settings: two-factor state (with the enrolment QR code), the
//! recovery codes just made (shown once), and the gateway IP allowlist. Changes are form
//! posts handled by the server (`/settings/…`), so they work without JavaScript.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// Session key under which the server keeps freshly made recovery codes until the next page
/// view of Settings shows them.
pub const FRESH_RECOVERY_CODES: &str = "fresh_recovery_codes";

/// Where two-factor sign-in stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TwoFactor {
    /// Off: sign-in needs the password only.
    Off,
    /// Enrolment started: scan and confirm with a code.
    Pending {
        /// The secret, base32, for typing in by hand.
        secret: String,
        /// The `otpauth://` URI the QR code holds.
        uri: String,
        /// The QR code as an SVG document.
        qr_svg: String,
    },
    /// On: sign-in asks for a code.
    On {
        /// Recovery codes not used yet.
        recovery_codes_left: usize,
    },
}

/// One allowlisted network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedNetwork {
    /// The entry's id (for removal).
    pub id: i64,
    /// The network, canonical (`203.0.113.7/32`).
    pub cidr: String,
    /// The customer's label.
    pub note: String,
}

/// Everything the security sections of Settings show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Security {
    /// Two-factor state.
    pub two_factor: TwoFactor,
    /// Recovery codes made by the request just before, shown once; usually empty.
    pub fresh_recovery_codes: Vec<String>,
    /// The gateway IP allowlist.
    pub allowlist: Vec<AllowedNetwork>,
}

/// The signed-in account's security settings.
#[server(endpoint = "security")]
pub async fn security_overview() -> Result<Security, ServerFnError> {
    use crate::api::access;
    let (db, account_id) = access::signed_in()?;
    let unavailable = access::internal("your security settings are");
    let account = store::accounts::by_id(&db, account_id)
        .await
        .map_err(&unavailable)?
        .ok_or_else(|| ServerFnError::new("sign in first"))?;
    let two_factor = match (&account.totp_secret, account.totp_enabled) {
        (Some(_), true) => TwoFactor::On {
            recovery_codes_left: store::accounts::unused_recovery_codes(&db, account_id)
                .await
                .map_err(&unavailable)?
                .len(),
        },
        (Some(secret), false) => {
            let (uri, qr_svg) = ssr::enrolment(secret, &account.email)?;
            TwoFactor::Pending {
                secret: secret.clone(),
                uri,
                qr_svg: ssr::without_xml_prolog(qr_svg),
            }
        }
        (None, _) => TwoFactor::Off,
    };
    let allowlist = store::allowlist::for_account(&db, account_id)
        .await
        .map_err(&unavailable)?
        .into_iter()
        .map(|entry| AllowedNetwork {
            id: entry.id.get(),
            cidr: entry.cidr.to_string(),
            note: entry.note,
        })
        .collect();
    Ok(Security {
        two_factor,
        fresh_recovery_codes: ssr::fresh_recovery_codes(),
        allowlist,
    })
}

/// Server side: the one-time recovery codes handed over by the server for this page view, and
/// the enrolment QR code the server makes.
#[cfg(feature = "ssr")]
pub mod ssr {
    use leptos::prelude::{ServerFnError, use_context};

    /// Makes what an authenticator app scans from a TOTP secret and the account's email: the
    /// `otpauth://` URI and that URI as an SVG QR code. Provided by the server, where TOTP
    /// lives, so its parameters are written once.
    #[derive(Clone)]
    pub struct TotpEnrolment(pub std::sync::Arc<MakeEnrolment>);

    /// `(secret, email)` to `(uri, svg)`, or why not.
    type MakeEnrolment = dyn Fn(&str, &str) -> Result<(String, String), String> + Send + Sync;

    /// The enrolment URI and QR code for `secret` (see [`TotpEnrolment`]).
    pub fn enrolment(secret: &str, email: &str) -> Result<(String, String), ServerFnError> {
        let made = match use_context::<TotpEnrolment>() {
            Some(enrolment) => (enrolment.0)(secret, email),
            None => Err("no TOTP enrolment was provided".to_owned()),
        };
        made.map_err(|error| {
            tracing::error!(%error, "making the two-factor QR code failed");
            ServerFnError::new("your security settings are unavailable right now")
        })
    }

    /// Put into the request's extensions by the server when the session held fresh recovery
    /// codes (which it removes at the same time, so they are shown once).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct FreshRecoveryCodes(pub Vec<String>);

    /// The fresh codes of the request being served, if any.
    pub fn fresh_recovery_codes() -> Vec<String> {
        use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<FreshRecoveryCodes>().cloned())
            .map(|codes| codes.0)
            .unwrap_or_default()
    }

    /// The SVG element alone, for inlining into HTML.
    pub fn without_xml_prolog(svg: String) -> String {
        match svg.find("<svg") {
            Some(at) => svg[at..].to_owned(),
            None => svg,
        }
    }
}
