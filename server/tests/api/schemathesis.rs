//! schemathesis (pinned, from the venv `cargo xtask test` makes) against the real service:
//! every operation of the served document with generated valid and invalid input, and the
//! stateful sequences its links describe (an allowlist entry added, then removed), as a
//! customer with a plan and a `read_write` token. The checks: no 5xx, and status codes,
//! content types and bodies as documented. Bounded to a couple of minutes, loopback only.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use crate::live::{Live, venv};

/// What schemathesis checks every response with.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";

/// Runs `st run` against `live` with `token`, the given phases and at most `examples`
/// cases per operation (scenarios, for the stateful phase); whether it passed, and
/// what it printed.
async fn schemathesis(
    venv: &Path,
    live: &Live,
    token: &str,
    phases: &str,
    examples: u32,
) -> (bool, String) {
    let reports = tempfile::tempdir().unwrap();
    let config = reports.path().join("schemathesis.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let run = Command::new(venv.join("bin/st"))
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", live.base))
        .args(["--url", &live.base])
        .args(["--checks", CHECKS])
        .args(["--phases", phases])
        .args(["--max-examples", &examples.to_string()])
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        // Under the account's API budget (1,000 a minute on the Team plan), so reads are
        // tested rather than refused; writes (30 a minute) and usage (10) still meet their
        // own buckets now and then, which is documented and checked too.
        .args(["--rate-limit", "900/m"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .arg("--report-dir")
        .arg(reports.path())
        .env("NO_COLOR", "1")
        .env("NO_PROXY", "*")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .current_dir(reports.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("schemathesis finishes within 3 minutes")
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    (output.status.success(), text)
}

/// schemathesis' configuration: half the generated allowlist entries are networks the API
/// takes (public, narrow enough), so adding one succeeds often enough for the link to its
/// removal to be followed; the rest stays random.
const CONFIG: &str = r#"
[dictionaries.networks]
values = ["203.0.113.7", "203.0.113.0/24", "198.51.100.9", "198.51.100.0/25", "192.0.2.44", "2001:db8::/48"]

[parameters]
"body.cidr" = { dictionary = "networks", probability = 0.5 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_every_operation_as_documented() {
    let Some(venv) = venv() else {
        return;
    };
    let live = Live::start().await;
    // The links first, as a customer whose write bucket the generated input has not emptied.
    let linked = live.another_customer("links@example.com").await;
    let (stateful, stateful_text) = schemathesis(&venv, &live, &linked, "stateful", 60).await;
    let (generated, generated_text) =
        schemathesis(&venv, &live, &live.token, "examples,coverage,fuzzing", 15).await;
    live.stop().await;
    assert!(
        stateful,
        "schemathesis found failures (stateful):\n{stateful_text}"
    );
    assert!(generated, "schemathesis found failures:\n{generated_text}");
    // Every operation ran, and the links were followed.
    assert!(
        !generated_text.contains("No operations"),
        "{generated_text}"
    );
    let covered = stateful_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("API Links:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    assert!(covered > 0, "no link was followed:\n{stateful_text}");
}
