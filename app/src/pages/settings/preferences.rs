//! Settings › Profile and preferences: who you are, the time zone the dashboard shows times
//! in, and when to warn about the quota. A plain form post (`/settings/preferences`).

use leptos::prelude::*;

use crate::api::preferences::Preferences;

/// The profile and preferences section.
#[component]
pub fn PreferencesSection(prefs: Preferences) -> impl IntoView {
    let current = prefs.time_zone.clone();
    view! {
        <section id="preferences" class="card settings-section" aria-labelledby="preferences-heading">
            <h2 id="preferences-heading">"Profile and preferences"</h2>
            <dl class="credentials">
                <dt>"Email"</dt>
                <dd id="profile-email">{prefs.email}</dd>
                <dt>"Role"</dt>
                <dd>{prefs.role}</dd>
                <dt>"Member since"</dt>
                <dd>{prefs.member_since}</dd>
            </dl>
            <form method="post" action="/settings/preferences" class="row-form">
                <label for="time-zone">"Time zone"</label>
                <select id="time-zone" name="time_zone">
                    {prefs
                        .zones
                        .into_iter()
                        .map(|z| {
                            let selected = z == current;
                            let label = z.clone();
                            view! { <option value=z selected=selected>{label}</option> }
                        })
                        .collect_view()}
                </select>
                <label for="quota-warning">"Warn me at"</label>
                <input
                    id="quota-warning"
                    name="quota_warning_percent"
                    type="number"
                    min="0"
                    max="100"
                    step="1"
                    value=prefs.quota_warning_percent.to_string()
                    aria-describedby="quota-warning-help"
                />
                <span class="muted" id="quota-warning-help">"% of the period's bandwidth (0: never)"</span>
                <button class="button" type="submit" id="save-preferences">"Save"</button>
            </form>
        </section>
    }
}
