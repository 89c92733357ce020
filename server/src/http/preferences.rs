//! `POST /settings/preferences`: the dashboard's time zone and the quota warning threshold,
//! as a plain form post that answers with a 303 back to Settings.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use super::SignedIn;
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

fn back(outcome: &str, key: &str) -> Response {
    Redirect::to(&format!("/settings?{outcome}={key}#preferences")).into_response()
}

async fn save(
    State(state): State<AppState>,
    viewer: SignedIn,
    Form(form): Form<PreferencesForm>,
) -> Response {
    let time_zone = form.time_zone.trim();
    if !app::api::zone::is_known(time_zone) {
        return back("error", "time_zone");
    }
    let Ok(percent) = form.quota_warning_percent.trim().parse::<i64>() else {
        return back("error", "quota_percent");
    };
    if !(0..=100).contains(&percent) {
        return back("error", "quota_percent");
    }
    match store::accounts::set_preferences(
        &state.db,
        viewer.account_id(),
        time_zone,
        percent,
        store::now_ms(),
    )
    .await
    {
        Ok(()) => back("notice", "preferences_saved"),
        Err(error) => {
            tracing::error!(%error, "saving preferences failed");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the change could not be saved, try again\n",
            )
                .into_response()
        }
    }
}
