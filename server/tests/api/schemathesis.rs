//! schemathesis (pinned, from the venv `cargo xtask test` makes) against the real service:
//! every operation of the served document with generated valid and invalid input, and the
//! stateful sequences its links describe (an allowlist entry added, then removed), as a
//! customer with a plan and a `read_write` token. The checks: no 5xx, and status codes,
//! content types and bodies as documented. Bounded to a couple of minutes, loopback only.

use std::time::Duration;

use tokio::process::Command;

use crate::live::{Live, venv};

/// What schemathesis checks every response with.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_every_operation_as_documented() {
    let Some(venv) = venv() else {
        return;
    };
    let live = Live::start().await;
    let reports = tempfile::tempdir().unwrap();
    let run = Command::new(venv.join("bin/st"))
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", live.base))
        .args(["--url", &live.base])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", "15"])
        // Under the account's API budget (1,000 a minute on the Team plan), so reads are
        // tested rather than refused; writes (30 a minute) and usage (10) still meet their
        // own buckets now and then, which is documented and checked too.
        .args(["--rate-limit", "900/m"])
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .args(["--header", &format!("Authorization: Bearer {}", live.token)])
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
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("schemathesis finishes within 4 minutes")
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    live.stop().await;
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{text}"
    );
    // It ran every operation, not none.
    assert!(!text.contains("No operations"), "{text}");
}
