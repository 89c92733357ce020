//! The shipped configs checked by the tools that will load them: promtool and amtool, and
//! the parts of Grafana's, Loki's and Promtail's files the deployment relies on.

use std::collections::BTreeSet;
use std::path::Path;

use crate::expressions::{self, Kind};
use crate::tools::{ops, run, tool};

fn yaml(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// A copy of `ops/prometheus` whose metrics token points at a real file, so that promtool's
/// full check (which opens the credentials and rule files) can run outside the container.
fn prometheus_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = ops().join("prometheus");
    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    for entry in std::fs::read_dir(source.join("rules")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(
            &path,
            dir.path().join("rules").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let token = dir.path().join("metrics_token");
    std::fs::write(&token, "test-token\n").unwrap();
    let config = std::fs::read_to_string(source.join("prometheus.yml")).unwrap();
    assert!(config.contains("/run/secrets/metrics_token"));
    let config = config.replace("/run/secrets/metrics_token", token.to_str().unwrap());
    std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
    dir
}

#[test]
fn promtool_accepts_the_scrape_config_and_the_rules() {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let shipped = ops().join("prometheus");
    let (ok, out) = run(
        &promtool,
        &["check", "config", "--syntax-only", "prometheus.yml"],
        &shipped,
    );
    assert!(ok, "promtool check config --syntax-only:\n{out}");
    // the full check: the token file and every rule file are opened and validated
    let copy = prometheus_copy();
    let (ok, out) = run(
        &promtool,
        &["check", "config", "prometheus.yml"],
        copy.path(),
    );
    assert!(ok, "promtool check config:\n{out}");
    assert!(
        out.contains("rules found"),
        "the rule files were not loaded:\n{out}"
    );
    let (ok, out) = run(
        &promtool,
        &["check", "rules", "rules/alerts.yml", "rules/recording.yml"],
        &shipped,
    );
    assert!(ok, "promtool check rules:\n{out}");
}

#[test]
fn every_alert_has_unit_tests_and_they_pass() {
    let Some(promtool) = tool("promtool", "prometheus") else {
        return;
    };
    let dir = ops().join("prometheus");
    let (ok, out) = run(&promtool, &["test", "rules", "tests/alerts.test.yml"], &dir);
    assert!(ok, "promtool test rules:\n{out}");
    // every alert is shown firing by at least one test
    let tests = yaml(&dir.join("tests/alerts.test.yml"));
    let mut fired = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for test in tests["tests"].as_array().unwrap() {
        for case in test["alert_rule_test"].as_array().into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap().to_owned();
            match case["exp_alerts"].as_array().map(Vec::len) {
                Some(n) if n > 0 => fired.insert(name),
                _ => silent.insert(name),
            };
        }
    }
    let alerts: BTreeSet<String> = expressions::rules()
        .into_iter()
        .filter(|e| e.kind == Kind::Alert)
        .map(|e| e.source.trim_start_matches("alert ").to_owned())
        .collect();
    let never_fired: Vec<_> = alerts.difference(&fired).collect();
    assert!(
        never_fired.is_empty(),
        "alerts no test shows firing: {never_fired:?}"
    );
    let never_silent: Vec<_> = alerts.difference(&silent).collect();
    assert!(
        never_silent.is_empty(),
        "alerts no test shows silent: {never_silent:?}"
    );
}

#[test]
fn every_alert_has_a_severity_and_a_runbook_section() {
    let runbooks = std::fs::read_to_string(ops().join("../docs/runbooks.md")).unwrap();
    let anchors: BTreeSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .map(|h| h.trim().to_lowercase())
        .collect();
    for file in ["alerts.yml"] {
        let doc = yaml(&ops().join("prometheus/rules").join(file));
        for group in doc["groups"].as_array().unwrap() {
            for rule in group["rules"].as_array().unwrap() {
                let Some(name) = rule["alert"].as_str() else {
                    continue;
                };
                let severity = rule["labels"]["severity"].as_str().unwrap_or("");
                assert!(
                    ["critical", "warning"].contains(&severity),
                    "{name}: severity `{severity}` is not routed by Alertmanager"
                );
                let runbook = rule["annotations"]["runbook"].as_str().unwrap_or("");
                assert_eq!(runbook, format!("docs/runbooks.md#{}", name.to_lowercase()));
                assert!(
                    anchors.contains(&name.to_lowercase()),
                    "docs/runbooks.md has no `### {name}` section"
                );
            }
        }
    }
}

#[test]
fn amtool_accepts_alertmanager_and_routes_by_severity() {
    let Some(amtool) = tool("amtool", "prometheus-alertmanager") else {
        return;
    };
    let dir = ops().join("alertmanager");
    let (ok, out) = run(&amtool, &["check-config", "alertmanager.yml"], &dir);
    assert!(ok, "amtool check-config:\n{out}");
    for (labels, receiver) in [
        (
            ["severity=critical", "alertname=AtlanticDown"],
            "slack-critical",
        ),
        (
            ["severity=warning", "alertname=AtlanticExitUnhealthy"],
            "slack-warnings",
        ),
    ] {
        let mut args = vec!["config", "routes", "test", "--config.file=alertmanager.yml"];
        args.extend(labels);
        let (ok, out) = run(&amtool, &args, &dir);
        // stdout's first line is the receiver (a warning about the URL flag may follow)
        let first = out.lines().next().unwrap_or("").trim();
        assert!(ok && first == receiver, "{labels:?} went to `{first}`");
    }
    let config = yaml(&dir.join("alertmanager.yml"));
    let inhibit = &config["inhibit_rules"][0];
    assert_eq!(inhibit["source_matchers"][0], "alertname=\"AtlanticDown\"");
    assert_eq!(inhibit["equal"][0], "instance");
    for receiver in config["receivers"].as_array().unwrap() {
        let slack = &receiver["slack_configs"][0];
        assert_eq!(
            slack["api_url_file"], "/run/secrets/slack_webhook_url",
            "the Slack URL is a secret read from a file"
        );
        assert!(slack.get("api_url").is_none());
    }
}

#[test]
fn dashboards_are_provisioned_on_the_provisioned_data_source() {
    let datasources = yaml(&ops().join("grafana/provisioning/datasources/prometheus.yml"));
    let uids: BTreeSet<&str> = datasources["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["uid"].as_str().unwrap())
        .collect();
    let providers = yaml(&ops().join("grafana/provisioning/dashboards/atlantic.yml"));
    assert_eq!(
        providers["providers"][0]["options"]["path"],
        "/var/lib/grafana/dashboards"
    );
    let mut titles = BTreeSet::new();
    let mut dashboard_uids = BTreeSet::new();
    for name in ["gateway.json", "web.json", "billing.json", "host.json"] {
        let path = ops().join("grafana/dashboards").join(name);
        let d: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            dashboard_uids.insert(d["uid"].as_str().unwrap().to_owned()),
            "{name}: uid reused"
        );
        titles.insert(d["title"].as_str().unwrap().to_owned());
        let panels = d["panels"].as_array().unwrap();
        assert!(panels.len() >= 6, "{name}: only {} panels", panels.len());
        for panel in panels {
            let title = panel["title"].as_str().unwrap();
            let uid = panel["datasource"]["uid"].as_str().unwrap();
            assert!(
                uids.contains(uid),
                "{name}: \"{title}\" uses data source `{uid}`"
            );
            let grid = &panel["gridPos"];
            let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
            assert!(
                x + w <= 24,
                "{name}: \"{title}\" is wider than the dashboard"
            );
            assert!(
                !panel["targets"].as_array().unwrap().is_empty(),
                "{name}: \"{title}\""
            );
        }
    }
    assert_eq!(titles.len(), 4);
}

#[test]
fn loki_keeps_seven_days_and_promtail_reads_the_json_fields() {
    let loki = yaml(&ops().join("loki/loki.yml"));
    assert_eq!(loki["limits_config"]["retention_period"], "168h");
    assert_eq!(loki["compactor"]["retention_enabled"], true);
    let promtail = yaml(&ops().join("promtail/promtail.yml"));
    assert_eq!(
        promtail["clients"][0]["url"],
        "http://loki:3100/loki/api/v1/push"
    );
    let stages = &promtail["scrape_configs"][0]["pipeline_stages"][0]["match"]["stages"];
    let json = &stages[0]["json"]["expressions"];
    // the fields the live check finds in every line the service writes
    assert_eq!(json["level"], "level");
    assert_eq!(json["timestamp"], "timestamp");
    assert_eq!(stages[2]["timestamp"]["source"], "timestamp");
}
