//! A real Prometheus server (Debian's package) on loopback with a temporary data folder, and
//! the checks run through its HTTP API.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::expressions::{Expression, Kind, selectors, with_bool_comparisons};

/// A running Prometheus, stopped when dropped.
pub struct Prometheus {
    pub base: String,
    client: reqwest::Client,
    _child: Child,
    _dir: tempfile::TempDir,
}

/// A scrape job: its name and `host:port` targets.
pub struct Job<'a> {
    pub name: &'a str,
    pub target: SocketAddr,
}

impl Prometheus {
    /// Starts `binary` scraping `jobs` every second and evaluating `rule_files` every second.
    pub async fn start(binary: &Path, jobs: &[Job<'_>], rule_files: &[&Path]) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::common::free_port();
        let scrape_configs: Vec<Value> = jobs
            .iter()
            .map(|job| {
                json!({
                    "job_name": job.name,
                    "static_configs": [{ "targets": [job.target.to_string()] }],
                })
            })
            .collect();
        let rule_files: Vec<String> = rule_files
            .iter()
            .map(|p| p.canonicalize().unwrap().display().to_string())
            .collect();
        // JSON is YAML: the config needs no YAML writer
        let config = json!({
            "global": { "scrape_interval": "1s", "evaluation_interval": "1s" },
            "rule_files": rule_files,
            "scrape_configs": scrape_configs,
        });
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", port.port()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("prometheus starts");
        let prometheus = Prometheus {
            base: format!("http://127.0.0.1:{}", port.port()),
            client: crate::common::client(),
            _child: child,
            _dir: dir,
        };
        prometheus.wait_ready().await;
        prometheus
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = self
                .client
                .get(format!("{}/-/ready", self.base))
                .send()
                .await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Prometheus not ready in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An instant query: the result's series, or Prometheus's error.
    pub async fn query(&self, query: &str) -> Result<Vec<Value>, String> {
        let response = self
            .client
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", query)])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Waits until `query` returns a series, failing the test after `within`.
    pub async fn until_present(&self, query: &str, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if self.query(query).await.is_ok_and(|r| !r.is_empty()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "`{query}` returned nothing within {} s",
                within.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The loaded rules, as `/api/v1/rules` reports them.
    pub async fn rules(&self) -> Vec<Value> {
        let body: Value = self
            .client
            .get(format!("{}/api/v1/rules", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["data"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().clone())
            .collect()
    }

    /// The label names the series of `metric` carry.
    async fn label_names(&self, metric: &str) -> Result<Vec<String>, String> {
        let series = self.query(&format!("{{__name__=\"{metric}\"}}")).await?;
        let mut names: Vec<String> = series
            .iter()
            .flat_map(|s| s["metric"].as_object().unwrap().keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// What is wrong with `expressions` against what is being scraped: an expression that does
    /// not evaluate or returns no series, a metric nobody exports, a label a metric lacks.
    /// Recording rules' own names count as metrics (Prometheus writes them).
    pub async fn problems(&self, expressions: &[Expression]) -> Vec<String> {
        let mut problems = Vec::new();
        for e in expressions {
            let query = match e.kind {
                Kind::Alert => match with_bool_comparisons(&e.query) {
                    Ok(q) => q,
                    Err(err) => {
                        problems.push(format!("{}: does not parse: {err}", e.source));
                        continue;
                    }
                },
                Kind::Record | Kind::Panel => e.query.clone(),
            };
            match self.query(&query).await {
                Err(err) => problems.push(format!("{}: `{query}` fails: {err}", e.source)),
                Ok(series) if series.is_empty() => {
                    problems.push(format!("{}: `{query}` returns no series", e.source))
                }
                Ok(_) => {}
            }
            let Ok(found) = selectors(&e.query) else {
                problems.push(format!("{}: does not parse", e.source));
                continue;
            };
            for selector in found {
                match self.label_names(&selector.metric).await {
                    Ok(names) if names.is_empty() => problems.push(format!(
                        "{}: metric `{}` is not exported",
                        e.source, selector.metric
                    )),
                    Ok(names) => {
                        for label in selector.labels {
                            if !names.contains(&label) {
                                problems.push(format!(
                                    "{}: `{}` has no label `{label}` (it has {names:?})",
                                    e.source, selector.metric
                                ));
                            }
                        }
                    }
                    Err(err) => problems.push(format!("{}: {err}", e.source)),
                }
            }
        }
        problems
    }
}
