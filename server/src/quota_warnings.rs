//! Quota warnings: once a customer's use of the period's bandwidth reaches the threshold they
//! chose in Settings, a `quota.warning` event lands in their activity log, once per period.

use store::activity::NewActivity;

use crate::state::AppState;

/// Records a warning for every account that is due one.
pub async fn send_due(state: &AppState) {
    let now = store::now_ms();
    let due = match store::quota::warnings_due(&state.db, now).await {
        Ok(due) => due,
        Err(error) => {
            tracing::warn!(%error, "looking for quota warnings failed");
            return;
        }
    };
    for warning in due {
        // Only the run that marks the period records the event.
        match store::quota::mark_warned(&state.db, warning.account_id, warning.period_end).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                tracing::warn!(%error, "marking a quota warning failed");
                continue;
            }
        }
        let event = NewActivity {
            detail: serde_json::json!({
                "percent_used": warning.percent_used(),
                "bytes_used": warning.bytes_used,
                "bandwidth_bytes": warning.bandwidth_bytes,
                "threshold_percent": warning.threshold_percent,
            }),
            ..NewActivity::new(Some(warning.account_id), "quota.warning")
        };
        if let Err(error) = store::activity::record(&state.db, &event, now).await {
            tracing::warn!(%error, "recording a quota warning failed");
        }
    }
}
