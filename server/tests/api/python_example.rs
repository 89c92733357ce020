//! The Python example of docs/api.md, taken from the file as it is and run with the venv's
//! Python (and its pinned `requests`) against the real service: it must exit 0 and print what
//! the service holds.

use std::path::PathBuf;
use std::time::Duration;

use tokio::process::Command;

use crate::live::{EMAIL, Live, venv};

/// The first ```` ```python ```` block of docs/api.md.
fn example() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let text = std::fs::read_to_string(&path).expect("docs/api.md");
    let start = text
        .find("```python\n")
        .expect("a ```python block in docs/api.md")
        + 10;
    let end = start + text[start..].find("\n```").expect("the block ends");
    text[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_example_of_the_docs_runs_against_the_service() {
    let Some(venv) = venv() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("example.py");
    std::fs::write(&script, example()).unwrap();
    let live = Live::start().await;
    let run = Command::new(venv.join("bin/python"))
        .arg(&script)
        .env("ATLANTIC_API_URL", &live.base)
        .env("ATLANTIC_API_TOKEN", &live.token)
        .env("NO_PROXY", "*")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .env_remove("all_proxy")
        .current_dir(dir.path())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the example finishes within a minute")
        .expect("python runs");
    live.stop().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the example failed ({}):\n{stdout}{stderr}",
        output.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0], format!("account: {EMAIL} plan: Team"));
    assert!(lines[1].starts_with("usage: 0 bytes in "), "{}", lines[1]);
    let added = lines[2].strip_prefix("added: ").expect("added");
    let (id, cidr) = added.split_once(' ').expect("id and cidr");
    assert!(id.parse::<i64>().is_ok_and(|id| id > 0), "{id}");
    assert_eq!(cidr, "203.0.113.7/32");
    assert_eq!(lines[3], format!("removed: {id}, 0 entries left"));
}
