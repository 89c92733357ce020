//! Every PromQL expression the project ships: the alerts and recording rules of
//! `ops/prometheus/rules/`, and the targets of every panel in `ops/grafana/dashboards/`.

use std::path::Path;

use promql_parser::parser::{self, BinModifier, Expr};

use crate::tools::ops;

/// Where an expression comes from, which decides how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An alert: returns series only while firing, so it is checked with its comparisons
    /// turned into `bool` ones (0 or 1 for every series it looks at).
    Alert,
    /// A recording rule: must return a series as it is.
    Record,
    /// A dashboard panel's target, its Grafana variables substituted.
    Panel,
}

/// One expression and where it is written.
#[derive(Debug, Clone)]
pub struct Expression {
    pub kind: Kind,
    /// e.g. `alert AtlanticDown` or `gateway.json: "Active connections"`.
    pub source: String,
    pub query: String,
}

/// The alerts and recording rules of every file in `ops/prometheus/rules/`.
pub fn rules() -> Vec<Expression> {
    rules_in(&ops().join("prometheus/rules"))
}

/// The alerts and recording rules of the rule files in `dir`.
pub fn rules_in(dir: &Path) -> Vec<Expression> {
    let mut found = Vec::new();
    for file in files(dir, "yml") {
        let text = std::fs::read_to_string(&file).unwrap();
        let doc: serde_json::Value = serde_norway::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not YAML: {e}", file.display()));
        for group in doc["groups"].as_array().expect("groups") {
            for rule in group["rules"].as_array().expect("rules") {
                let query = rule["expr"].as_str().expect("expr").trim().to_owned();
                let (kind, source) = match (rule["alert"].as_str(), rule["record"].as_str()) {
                    (Some(alert), _) => (Kind::Alert, format!("alert {alert}")),
                    (None, Some(record)) => (Kind::Record, format!("record {record}")),
                    _ => panic!("a rule in {} is neither alert nor record", file.display()),
                };
                found.push(Expression {
                    kind,
                    source,
                    query,
                });
            }
        }
    }
    found
}

/// Every panel target of every dashboard, its variables substituted for the check.
pub fn panels() -> Vec<Expression> {
    let mut found = Vec::new();
    for file in files(&ops().join("grafana/dashboards"), "json") {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap())
                .unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        for panel in dashboard["panels"].as_array().expect("panels") {
            let title = panel["title"].as_str().unwrap_or("?");
            for target in panel["targets"].as_array().expect("targets") {
                let raw = target["expr"].as_str().expect("expr");
                let query = substitute(raw)
                    .unwrap_or_else(|e| panic!("{name}: \"{title}\": {e} in `{raw}`"));
                found.push(Expression {
                    kind: Kind::Panel,
                    source: format!("{name}: \"{title}\" {}", target["refId"]),
                    query,
                });
            }
        }
    }
    found
}

/// Grafana's variables replaced by what they stand for in a one-second-scrape test: the rate
/// interval by one minute (several samples), the dashboards' own selectors by "all".
pub fn substitute(expr: &str) -> Result<String, String> {
    let replaced = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "5m")
        .replace("$instance", ".*")
        .replace("$node", ".*");
    match replaced.find('$') {
        Some(at) => Err(format!(
            "unknown Grafana variable `{}`",
            &replaced[at..]
                .split(|c: char| !c.is_alphanumeric() && c != '$' && c != '_')
                .next()
                .unwrap_or("$")
        )),
        None => Ok(replaced),
    }
}

/// The files ending in `.ext` in `dir`, sorted.
fn files(dir: &Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// The expression with every comparison made a `bool` one, so that it returns a 0/1 series for
/// everything it compares instead of only the series over the threshold.
pub fn with_bool_comparisons(query: &str) -> Result<String, String> {
    let mut expr = parser::parse(query)?;
    make_bool(&mut expr);
    Ok(expr.to_string())
}

fn make_bool(expr: &mut Expr) {
    match expr {
        Expr::Binary(b) => {
            if b.op.is_comparison_operator() {
                let modifier = b.modifier.take().unwrap_or_default();
                b.modifier = Some(BinModifier {
                    return_bool: true,
                    ..modifier
                });
            }
            make_bool(&mut b.lhs);
            make_bool(&mut b.rhs);
        }
        Expr::Aggregate(a) => make_bool(&mut a.expr),
        Expr::Unary(u) => make_bool(&mut u.expr),
        Expr::Paren(p) => make_bool(&mut p.expr),
        Expr::Subquery(s) => make_bool(&mut s.expr),
        Expr::Call(c) => c.args.args.iter_mut().for_each(|a| make_bool(a)),
        _ => {}
    }
}

/// A metric an expression reads, and the labels its selector matches on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub metric: String,
    pub labels: Vec<String>,
}

/// Every metric selector in `query` (instant or range).
pub fn selectors(query: &str) -> Result<Vec<Selector>, String> {
    let expr = parser::parse(query)?;
    let mut found = Vec::new();
    collect(&expr, &mut found);
    Ok(found)
}

fn collect(expr: &Expr, found: &mut Vec<Selector>) {
    let mut push = |vs: &parser::VectorSelector| {
        let metric = vs.name.clone().unwrap_or_else(|| {
            vs.matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__")
                .map(|m| m.value.clone())
                .unwrap_or_default()
        });
        let labels = vs
            .matchers
            .matchers
            .iter()
            .filter(|m| m.name != "__name__")
            .map(|m| m.name.clone())
            .collect();
        found.push(Selector { metric, labels });
    };
    match expr {
        Expr::VectorSelector(vs) => push(vs),
        Expr::MatrixSelector(ms) => push(&ms.vs),
        Expr::Binary(b) => {
            collect(&b.lhs, found);
            collect(&b.rhs, found);
        }
        Expr::Aggregate(a) => collect(&a.expr, found),
        Expr::Unary(u) => collect(&u.expr, found),
        Expr::Paren(p) => collect(&p.expr, found),
        Expr::Subquery(s) => collect(&s.expr, found),
        Expr::Call(c) => c.args.args.iter().for_each(|a| collect(a, found)),
        _ => {}
    }
}

#[test]
fn comparisons_become_bool_ones_at_every_depth() {
    let q = with_bool_comparisons(
        "sum by (pool) (healthy) == 0 and sum by (pool) (enabled) > 0 or absent(up{job=\"a\"})",
    )
    .unwrap();
    assert_eq!(
        q,
        "sum by (pool) (healthy) == bool 0 and sum by (pool) (enabled) > bool 0 or absent(up{job=\"a\"})"
    );
    let q = with_bool_comparisons("time() - max by (job) (x) > 26 * 3600").unwrap();
    assert_eq!(q, "time() - max by (job) (x) > bool 26 * 3600");
}

#[test]
fn selectors_name_their_metric_and_labels() {
    let found =
        selectors("rate(a_total{status=~\"5..\", job=\"x\"}[5m]) / on (job) b or {__name__=\"c\"}")
            .unwrap();
    let names: Vec<_> = found.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(names, ["a_total", "b", "c"]);
    assert_eq!(found[0].labels, ["status", "job"]);
}

#[test]
fn every_shipped_expression_parses_and_uses_known_variables() {
    let all: Vec<Expression> = rules().into_iter().chain(panels()).collect();
    assert!(all.iter().any(|e| e.kind == Kind::Alert));
    assert!(all.iter().any(|e| e.kind == Kind::Record));
    assert!(all.iter().filter(|e| e.kind == Kind::Panel).count() >= 30);
    for e in &all {
        selectors(&e.query).unwrap_or_else(|err| panic!("{}: `{}`: {err}", e.source, e.query));
    }
    assert!(substitute("rate(x[$__rate_interval]) * $unknown").is_err());
}
