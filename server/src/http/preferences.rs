//! `POST /settings/preferences`: the dashboard's time zone and the quota warning threshold,
//! as a plain form post that answers with a 303 back to Settings.

use app::outcome::Outcome;
use axum::extract::State;
use axum::response::Redirect;
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use super::SignedIn;
use super::web_error::{WebError, back_to};
use crate::state::AppState;

/// The preferences form post.
pub fn router() -> Router<AppState> {
    Router::new().route("/settings/preferences", post(save))
}

#[derive(Deserialize)]
struct PreferencesForm {
    time_zone: String,
    quota_warning_percent: String,
}

async fn save(
    State(state): State<AppState>,
    viewer: SignedIn,
    Form(form): Form<PreferencesForm>,
) -> Result<Redirect, WebError> {
    let refused = |outcome| WebError::back_to(outcome, "preferences");
    let time_zone = form.time_zone.trim();
    if !app::api::zone::is_known(time_zone) {
        return Err(refused(Outcome::UnknownTimeZone));
    }
    let Ok(percent) = form.quota_warning_percent.trim().parse::<i64>() else {
        return Err(refused(Outcome::QuotaPercentInvalid));
    };
    if !(0..=100).contains(&percent) {
        return Err(refused(Outcome::QuotaPercentInvalid));
    }
    let account = viewer.account_id();
    let now = store::now_ms();
    match store::accounts::set_preferences(&state.db, account, time_zone, percent, now).await {
        Ok(()) => Ok(back_to(Outcome::PreferencesSaved, "preferences")),
        Err(error) => {
            tracing::error!(%error, "saving preferences failed");
            Err(WebError::Unavailable(
                "the change could not be saved, try again\n",
            ))
        }
    }
}
