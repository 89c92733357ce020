//! Settings › Connect › "Test my proxy": the result of one probe through the gateway: the exit
//! used and its place, the IP the target saw, time to connect and to the first byte, or the
//! error code with a hint.

use leptos::prelude::*;

use crate::api::probe::{ProbeExit, ProbeReport};

/// The exit as one line: `Lagos 1 — NG, lagos (#3)`, or the direct egress.
fn exit_line(exit: &ProbeExit) -> String {
    if exit.id == 0 {
        return "Direct egress (the gateway's own connection)".to_owned();
    }
    let place = match &exit.city {
        Some(city) => format!("{}, {city}", exit.country.to_uppercase()),
        None => exit.country.to_uppercase(),
    };
    format!("{} — {place} (#{})", exit.name, exit.id)
}

fn ms(value: Option<u64>) -> String {
    value.map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms"))
}

/// One probe's report.
#[component]
pub fn ProbeResult(report: ProbeReport) -> impl IntoView {
    let ProbeReport {
        protocol,
        proxy_url,
        target,
        exit,
        exit_note,
        seen_ip,
        status_line,
        preview,
        connect_ms,
        first_byte_ms,
        error,
    } = report;
    let failed = error.is_some();
    let class = if failed {
        "probe-result probe-failed"
    } else {
        "probe-result probe-ok"
    };
    let exit_text = match (&exit, &exit_note) {
        (Some(exit), _) => exit_line(exit),
        (None, Some(note)) => note.clone(),
        (None, None) => "—".to_owned(),
    };
    let exit_note = exit.as_ref().and(exit_note);
    let error = error.map(|e| {
        let code = e.code.unwrap_or_default();
        view! {
            <p class="notice notice-error" id="probe-error" role="alert">
                {(!code.is_empty()).then(|| view! { <code id="probe-error-code">{code.clone()}</code> " " })}
                {e.message}
            </p>
            <p class="probe-hint" id="probe-hint">{e.hint}</p>
        }
    });
    let seen = (!failed || seen_ip.is_some()).then(|| {
        view! {
            <dl class="probe-facts">
                <dt>"Exit"</dt>
                <dd id="probe-exit">{exit_text}{exit_note.map(|n| view! { <span class="muted small">" " {n}</span> })}</dd>
                {seen_ip.map(|ip| view! { <dt>"IP the target saw"</dt><dd id="probe-ip"><code>{ip}</code></dd> })}
                {status_line.map(|line| view! { <dt>"Target answered"</dt><dd id="probe-status"><code>{line}</code></dd> })}
                {preview.filter(|p| !p.is_empty()).map(|p| view! { <dt>"First bytes"</dt><dd><pre class="probe-preview">{p}</pre></dd> })}
                <dt>"Time to connect"</dt>
                <dd id="probe-connect">{ms(connect_ms)}</dd>
                <dt>"Time to first byte"</dt>
                <dd id="probe-ttfb">{ms(first_byte_ms)}</dd>
            </dl>
        }
    });
    let via = (!proxy_url.is_empty()).then(|| {
        view! {
            <p class="muted small probe-via">
                {protocol.to_uppercase()} " via " <code>{proxy_url}</code> " to " <code>{target}</code>
            </p>
        }
    });
    view! {
        <div class=class id="probe-result">
            {error}
            {seen}
            {via}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_read_as_name_and_place() {
        let exit = ProbeExit {
            id: 3,
            name: "Lagos 1".into(),
            country: "ng".into(),
            city: Some("lagos".into()),
        };
        assert_eq!(exit_line(&exit), "Lagos 1 — NG, lagos (#3)");
        let direct = ProbeExit {
            id: 0,
            name: String::new(),
            country: String::new(),
            city: None,
        };
        assert!(exit_line(&direct).starts_with("Direct egress"));
        assert_eq!(ms(Some(12)), "12 ms");
    }
}
