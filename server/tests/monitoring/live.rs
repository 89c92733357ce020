//! The live check: the real service, a real Prometheus, real traffic, and every shipped
//! expression queried against what was scraped.

use std::process::Stdio;
use std::time::Duration;

use cluster::test_support::TestRedis;
use serde_json::Value;
use store::exits::NewExit;
use tokio::process::Command;

use crate::common::{
    Browser, CUSTOMER_PASSWORD, Engine, TestDb, customer, fake_site, free_port, origin,
};
use crate::expressions::{self, Expression, Kind};
use crate::prometheus::{Job, Prometheus};
use crate::tools::{ops, tool};
use crate::upstream::relaying_exit;

const EMAIL: &str = "watched@example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_and_panel_reads_what_the_live_service_exports() {
    let (Some(prometheus), Some(node_exporter)) = (
        tool("prometheus", "prometheus"),
        tool("prometheus-node-exporter", "prometheus-node-exporter"),
    ) else {
        return;
    };
    let Some(db) = TestDb::new(Engine::Postgres).await else {
        return;
    };
    // with Redis, so the cluster gauges exist as they do in a cluster deployment
    let Some(redis) = TestRedis::new().await else {
        return;
    };

    // an origin, a working exit and a dead one in the same pool, and a customer
    let origin = origin("hello through the gateway").await;
    let exit = relaying_exit().await;
    let dead = free_port();
    let now = store::now_ms();
    for upstream in [exit, dead] {
        let url = format!("http://{upstream}");
        store::exits::add(db.db(), &NewExit::new(&url, "de"), now)
            .await
            .unwrap();
    }
    let (user, pass) = customer(db.db(), EMAIL, "Starter").await;
    // twenty requests in a burst: not the Starter plan's pace this test is about
    sqlx::query("UPDATE plans SET requests_per_second = 1000 WHERE name = 'Starter'")
        .execute(db.db().pool())
        .await
        .unwrap();

    // the service, logging JSON lines to a file
    let site = fake_site();
    let logs = tempfile::NamedTempFile::new().unwrap();
    let (listen, http, socks) = (free_port(), free_port(), free_port());
    let mut service = Command::new(env!("CARGO_BIN_EXE_atlantic"))
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("ATLANTIC_REDIS_URL", redis.url())
        .env("ATLANTIC_CLUSTER_NAME", redis.name())
        .env("ATLANTIC_LISTEN", listen.to_string())
        .env("ATLANTIC_HTTP_PROXY", http.to_string())
        .env("ATLANTIC_SOCKS_PROXY", socks.to_string())
        .env("ATLANTIC_SITE_ROOT", &site)
        .env("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "1")
        .env("ATLANTIC_HEALTH_PROBE_TARGET", origin.to_string())
        .env("ATLANTIC_HEALTH_INTERVAL_SECS", "1")
        .env("ATLANTIC_LOG_FORMAT", "json")
        .env("ATLANTIC_LOG", "info")
        .stdin(Stdio::null())
        .stdout(logs.reopen().unwrap())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("atlantic starts");
    let base = format!("http://{listen}");
    crate::common::until_ready(&base, Duration::from_secs(60), "atlantic", || {
        service.try_wait().ok().flatten().is_some()
    })
    .await;

    let node = free_port();
    let _node_exporter = Command::new(&node_exporter)
        .arg(format!("--web.listen-address={node}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node exporter starts");

    let rule_dir = ops().join("prometheus/rules");
    let rule_files = [rule_dir.join("alerts.yml"), rule_dir.join("recording.yml")];
    let prometheus = Prometheus::start(
        &prometheus,
        &[
            Job {
                name: "atlantic",
                target: listen,
            },
            Job {
                name: "node",
                target: node,
            },
        ],
        &rule_files.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
    )
    .await;

    // traffic through both proxy ports, a refusal, and a sign-in
    let target = format!("http://{origin}/");
    let through_http = reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::all(format!("http://{http}"))
                .unwrap()
                .basic_auth(&user, &pass),
        )
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let through_socks = reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(format!("socks5h://{user}:{pass}@{socks}")).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for client in [&through_http, &through_socks] {
        for _ in 0..10 {
            let body = client
                .get(&target)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(body, "hello through the gateway");
        }
    }
    let stranger = reqwest::Client::builder()
        .proxy(
            reqwest::Proxy::all(format!("http://{http}"))
                .unwrap()
                .basic_auth(&user, "not the password"),
        )
        .build()
        .unwrap();
    assert_eq!(stranger.get(&target).send().await.unwrap().status(), 407);
    let browser = Browser::at(&base);
    browser.sign_in_customer(EMAIL).await;
    assert_eq!(browser.get("/usage").await.status(), 200);

    // scraped after the traffic, and the rate windows hold several samples since
    let wait = Duration::from_secs(30);
    prometheus
        .until_present("atlantic_sign_ins_total{outcome=\"succeeded\"} > 0", wait)
        .await;
    prometheus
        .until_present("atlantic_proxy_requests_total >= 21", wait)
        .await;
    prometheus
        .until_present(
            "atlantic_proxy_refusals_total{code=\"bad_credentials\"} > 0",
            wait,
        )
        .await;
    prometheus
        .until_present(
            "count_over_time(atlantic:proxy_requests:rate5m[1m]) >= 3",
            wait,
        )
        .await;
    prometheus
        .until_present("count_over_time(node_load1[1m]) >= 3", wait)
        .await;

    // every rule loaded and evaluating without error
    let shipped: Vec<Expression> = expressions::rules();
    let loaded = prometheus.rules().await;
    assert_eq!(loaded.len(), shipped.len(), "rules loaded by Prometheus");
    let broken: Vec<String> = loaded
        .iter()
        .filter(|r| r["health"] != "ok")
        .map(|r| format!("{}: {} {}", r["name"], r["health"], r["lastError"]))
        .collect();
    assert!(
        broken.is_empty(),
        "rules failing in Prometheus: {broken:#?}"
    );

    // the check itself: every rule, recording rule and panel
    let all: Vec<Expression> = shipped.into_iter().chain(expressions::panels()).collect();
    let problems = prometheus.problems(&all).await;
    assert!(
        problems.is_empty(),
        "{} of {} expressions do not match what the service exports:\n{}",
        problems.len(),
        all.len(),
        problems.join("\n")
    );

    // and it catches drift: one metric renamed in one rule
    let mut drifted = all
        .iter()
        .find(|e| e.source == "alert AtlanticNearConnectionCap")
        .cloned()
        .expect("the alert exists");
    drifted.query = drifted.query.replace(
        "atlantic_proxy_max_connections",
        "atlantic_proxy_connection_limit",
    );
    let problems = prometheus.problems(&[drifted]).await;
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`atlantic_proxy_connection_limit` is not exported")),
        "a renamed metric went unnoticed: {problems:?}"
    );
    let mut relabelled = all
        .iter()
        .find(|e| e.kind == Kind::Panel && e.query.contains("atlantic_proxy_exit_healthy"))
        .cloned()
        .unwrap();
    relabelled.query = "atlantic_proxy_exit_healthy{exit=\"1\"}".into();
    let problems = prometheus.problems(&[relabelled]).await;
    assert!(
        problems.iter().any(|p| p.contains("has no label `exit`")),
        "a wrong label went unnoticed: {problems:?}"
    );

    // the JSON logs: every line an object with the fields Promtail reads, requests carrying
    // their id and, once signed in, the account; never a password or proxy secret
    let account = store::accounts::by_email(db.db(), EMAIL)
        .await
        .unwrap()
        .unwrap()
        .id
        .get();
    let text = std::fs::read_to_string(logs.path()).unwrap();
    check_logs(&text, account, &[CUSTOMER_PASSWORD, &pass]);

    let _ = std::fs::remove_dir_all(&site);
}

fn check_logs(text: &str, account: i64, secrets: &[&str]) {
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 5, "too few log lines: {text}");
    for line in &lines {
        assert!(line["timestamp"].is_string(), "no timestamp: {line}");
        assert!(line["level"].is_string(), "no level: {line}");
    }
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "request")
        .collect();
    assert!(!requests.is_empty(), "no request was logged");
    for line in &requests {
        let id = line["span"]["request_id"].as_str().unwrap_or("");
        assert!(id.len() >= 32, "a request line without its id: {line}");
    }
    assert!(
        requests
            .iter()
            .any(|l| l["span"]["account_id"].as_i64() == Some(account)),
        "no request line names the signed-in account {account}"
    );
    for secret in secrets {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
}
