//! The session inspector: the live sticky sessions over `/ws/live`, each with its exit and
//! place, age and time left, open connections and bytes, and an End session button (the
//! binding goes, its connections close, the next request with its id picks an exit anew).
//! Administrators see every account's sessions, with a filter.

use leptos::prelude::*;

use crate::api::live::LiveSession;
use crate::api::sessions::EndSession;
use crate::components::live_feed::{LiveFeed, LiveStatus};
use crate::components::table::DataTable;
use crate::format;

/// The inspector, on its own socket.
#[component]
pub fn SessionInspector() -> impl IntoView {
    let LiveFeed { frame, status } = LiveFeed::open();
    let end = ServerAction::<EndSession>::new();
    let filter = RwSignal::new(String::new());
    let admin = Memo::new(move |_| frame.with(|f| f.as_ref().is_some_and(|f| f.global.is_some())));
    let sessions = Memo::new(move |_| {
        let needle = filter.get().trim().to_lowercase();
        frame.with(|f| {
            let Some(f) = f else { return None };
            let rows: Vec<(i64, LiveSession)> = f
                .sessions
                .iter()
                .filter(|s| needle.is_empty() || matches(s, &needle))
                .map(|s| (f.taken_at_ms, s.clone()))
                .collect();
            Some(rows)
        })
    });
    let failed = move || {
        end.value().get().and_then(Result::err).map(|e| {
            view! { <p class="notice notice-error" role="alert" id="session-end-error">{e.to_string()}</p> }
        })
    };
    view! {
        <section class="card sessions" id="sessions" aria-labelledby="sessions-heading">
            <div class="live-head">
                <h2 id="sessions-heading">"Active sticky sessions"</h2>
                <LiveStatus id="sessions-status" status />
            </div>
            <p class="muted">
                "Sessions keep one exit while you reuse their id ("<code>"-session-ID"</code>
                " in the proxy username). Ending one closes its connections; the next request "
                "with that id gets a new exit."
            </p>
            {move || admin.get().then(|| view! {
                <label class="inline-field">
                    "Filter "
                    <input
                        id="sessions-filter"
                        type="search"
                        placeholder="account, session, exit or country"
                        autocomplete="off"
                        prop:value=move || filter.get()
                        on:input=move |ev| filter.set(event_target_value(&ev))
                    />
                </label>
            })}
            {failed}
            {move || match sessions.get() {
                None => view! { <p class="muted" id="sessions-waiting">"Waiting for the gateway…"</p> }.into_any(),
                Some(rows) if rows.is_empty() => view! {
                    <p class="muted" id="sessions-empty">"No live sticky sessions right now."</p>
                }
                .into_any(),
                Some(rows) => view! { <SessionTable rows admin=admin.get() end /> }.into_any(),
            }}
        </section>
    }
}

/// Whether a session matches an administrator's filter (already lower case).
fn matches(s: &LiveSession, needle: &str) -> bool {
    let fields = [
        s.account_id.to_string(),
        s.session.to_lowercase(),
        s.exit.to_lowercase(),
        s.country.clone().unwrap_or_default(),
        s.city.clone().unwrap_or_default().to_lowercase(),
    ];
    fields.iter().any(|f| f.contains(needle))
}

#[component]
fn SessionTable(
    rows: Vec<(i64, LiveSession)>,
    admin: bool,
    end: ServerAction<EndSession>,
) -> impl IntoView {
    const COLUMNS: &[&str] = &[
        "Session",
        "Exit",
        "Age",
        "Time left",
        "Connections",
        "Up",
        "Down",
    ];
    const WITH_ACCOUNT: &[&str] = &[
        "Account",
        "Session",
        "Exit",
        "Age",
        "Time left",
        "Connections",
        "Up",
        "Down",
    ];
    let rows: Vec<AnyView> = rows
        .into_iter()
        .map(|(now_ms, s)| view! { <SessionRow now_ms s admin end /> }.into_any())
        .collect();
    view! {
        <DataTable
            id="sessions-table"
            columns=if admin { WITH_ACCOUNT } else { COLUMNS }
            actions=true
            rows
        />
    }
}

#[component]
fn SessionRow(
    now_ms: i64,
    s: LiveSession,
    admin: bool,
    end: ServerAction<EndSession>,
) -> impl IntoView {
    let place = match (&s.country, &s.city) {
        (Some(c), Some(city)) => format!("{} · {city}", c.to_uppercase()),
        (Some(c), None) => c.to_uppercase(),
        _ => String::new(),
    };
    let label = format!("End session {}", s.session);
    let id = s.session.clone();
    view! {
        <tr data-session=id data-exit=s.exit_id.to_string()>
            {admin.then(|| view! { <td>{s.account_id.to_string()}</td> })}
            <td><code>{s.session.clone()}</code></td>
            <td class="session-exit">{s.exit.clone()}" "<span class="muted small">{place}</span></td>
            <td>{span(now_ms - s.started_at_ms)}</td>
            <td>{span(s.expires_at_ms - now_ms)}</td>
            <td class="session-open">{s.open_connections.to_string()}</td>
            <td>{format::bytes(s.bytes_up)}</td>
            <td>{format::bytes(s.bytes_down)}</td>
            <td class="table-actions">
                <ActionForm action=end>
                    <input type="hidden" name="session" value=s.session.clone() />
                    <input type="hidden" name="account_id" value=s.account_id.to_string() />
                    <button class="button button-quiet button-small" type="submit" aria-label=label>
                        "End session"
                    </button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// A duration in ms as `1 h 5 min`, `4 min 2 s` or `12 s`.
fn span(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_in_the_largest_units() {
        assert_eq!(span(-5), "0 s");
        assert_eq!(span(59_999), "59 s");
        assert_eq!(span(61_000), "1 min 1 s");
        assert_eq!(span(3_900_000), "1 h 5 min");
    }

    #[test]
    fn the_filter_looks_at_account_session_exit_and_place() {
        let s = LiveSession {
            account_id: 42,
            session: "Shop1".into(),
            exit: "Lagos residential".into(),
            country: Some("ng".into()),
            city: Some("Lagos".into()),
            ..LiveSession::default()
        };
        for needle in ["42", "shop1", "residential", "ng", "lagos"] {
            assert!(matches(&s, needle), "{needle}");
        }
        assert!(!matches(&s, "paris"));
    }
}
