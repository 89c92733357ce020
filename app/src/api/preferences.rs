//! Settings › Profile and preferences, and what the connection builder offers.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The profile and the dashboard preferences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preferences {
    /// Sign-in email.
    pub email: String,
    /// `customer` or `admin`.
    pub role: String,
    /// When the account was made, in its zone.
    pub member_since: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Quota warning threshold (0 = off).
    pub quota_warning_percent: i64,
    /// Every time zone to choose from.
    pub zones: Vec<String>,
}

/// The signed-in account's profile and preferences.
#[server(endpoint = "preferences")]
pub async fn my_preferences() -> Result<Preferences, ServerFnError> {
    use crate::api::{access, zone};
    let (db, account) = access::signed_in()?;
    let a = store::accounts::by_id(&db, account)
        .await
        .map_err(access::internal("your profile is"))?
        .ok_or_else(|| ServerFnError::new("your account no longer exists"))?;
    let tz = zone::parse(&a.time_zone);
    Ok(Preferences {
        email: a.email,
        role: a.role.as_str().to_owned(),
        member_since: zone::format(tz, a.created_at, "%Y-%m-%d"),
        time_zone: tz.name().to_owned(),
        quota_warning_percent: a.quota_warning_percent,
        zones: chrono_tz::TZ_VARIANTS
            .iter()
            .map(|z| z.name().to_owned())
            .collect(),
    })
}

/// The countries (lower-case ISO codes) with an enabled exit, for targeting.
#[server(endpoint = "proxy-countries")]
pub async fn proxy_countries() -> Result<Vec<String>, ServerFnError> {
    let (db, _) = crate::api::access::signed_in()?;
    let mut countries: Vec<String> = store::exits::list(&db)
        .await
        .map_err(crate::api::access::internal("the country list is"))?
        .into_iter()
        .filter(|e| e.enabled)
        .map(|e| e.country)
        .collect();
    countries.sort();
    countries.dedup();
    Ok(countries)
}
