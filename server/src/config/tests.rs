//! Tests of the configuration: defaults, production's refusals, and the helpers other
//! configuration modules' tests share.

use std::collections::HashMap;

use super::*;

/// Resolves the configuration from `vars` alone (also used by the edge settings' tests).
pub(super) fn resolve(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let env = move |name: &str| map.get(name).cloned();
    Config::resolve(&ServeArgs::default(), &CommonArgs::default(), &env)
}

pub(super) const PRODUCTION: [(&str, &str); 5] = [
    ("ATLANTIC_ENV", "production"),
    ("ATLANTIC_SECRET", "0123456789abcdef0123456789abcdef"),
    ("ATLANTIC_PUBLIC_URL", "https://proxy.example.com"),
    ("PAYSTACK_SECRET_KEY", "sk_live_abc"),
    ("PAYSTACK_PUBLIC_KEY", "pk_live_abc"),
];

pub(super) fn production_without(var: &str) -> Vec<(&'static str, &'static str)> {
    PRODUCTION
        .iter()
        .copied()
        .filter(|(k, _)| *k != var)
        .collect()
}

#[test]
fn development_defaults_match_the_design() {
    let c = resolve(&[]).expect("defaults are valid");
    assert_eq!(c.environment, Environment::Development);
    assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
    assert_eq!(c.http_proxy.to_string(), "127.0.0.1:8080");
    assert_eq!(c.socks_proxy.to_string(), "127.0.0.1:1080");
    assert_eq!(c.database_url, "sqlite://data/atlantic.db");
    assert!(
        c.paystack_base_url.is_none(),
        "development uses the built-in double"
    );
    assert!(!c.allow_private_destinations);
    assert!(!c.allow_private_sources);
    assert!(c.secret.expose().len() >= 32);
}

#[test]
fn production_accepts_a_complete_configuration() {
    let c = resolve(&PRODUCTION).expect("complete production config");
    assert_eq!(c.environment, Environment::Production);
    assert_eq!(
        c.paystack_base_url.map(|u| u.to_string()).as_deref(),
        Some("https://api.paystack.co/")
    );
}

#[test]
fn production_refuses_missing_or_weak_settings_naming_the_variable() {
    for var in [
        "ATLANTIC_SECRET",
        "ATLANTIC_PUBLIC_URL",
        "PAYSTACK_SECRET_KEY",
        "PAYSTACK_PUBLIC_KEY",
    ] {
        let e = resolve(&production_without(var)).expect_err(var);
        assert_eq!(e.var, var);
    }
    let mut weak = production_without("ATLANTIC_SECRET");
    weak.push(("ATLANTIC_SECRET", "short"));
    let e = resolve(&weak).expect_err("weak secret");
    assert_eq!(e.var, "ATLANTIC_SECRET");
    assert!(e.to_string().contains("32"), "{e}");

    let mut http = production_without("ATLANTIC_PUBLIC_URL");
    http.push(("ATLANTIC_PUBLIC_URL", "http://proxy.example.com"));
    let e = resolve(&http).expect_err("plain http");
    assert_eq!(e.var, "ATLANTIC_PUBLIC_URL");
    assert!(e.to_string().contains("https"), "{e}");
}

#[test]
fn bad_values_are_one_line_naming_the_variable() {
    let e = resolve(&[("ATLANTIC_ENV", "staging")]).expect_err("unknown env");
    assert_eq!(e.var, "ATLANTIC_ENV");
    let e = resolve(&[("ATLANTIC_ALLOW_PRIVATE_DESTINATIONS", "maybe")]).expect_err("bool");
    assert_eq!(e.var, "ATLANTIC_ALLOW_PRIVATE_DESTINATIONS");
    let e = resolve(&[("ATLANTIC_ALLOW_PRIVATE_SOURCES", "perhaps")]).expect_err("bool");
    assert_eq!(e.var, "ATLANTIC_ALLOW_PRIVATE_SOURCES");
    assert!(
        resolve(&[("ATLANTIC_ALLOW_PRIVATE_SOURCES", "on")]).is_ok_and(|c| c.allow_private_sources)
    );
    let e = resolve(&[("PAYSTACK_SECRET_KEY", "pk_test_x")]).expect_err("wrong key kind");
    assert_eq!(e.var, "PAYSTACK_SECRET_KEY");
    let e = resolve(&[("ATLANTIC_TRUSTED_PROXIES", "10.0.0.0/8, nope")]).expect_err("cidr");
    assert_eq!(e.var, "ATLANTIC_TRUSTED_PROXIES");
    let c = resolve(&[("ATLANTIC_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]).expect("valid");
    assert_eq!(c.trusted_proxies.len(), 2);
    for bad in ["0", "3601", "soon", "-1"] {
        let e = resolve(&[("ATLANTIC_BILLING_INTERVAL_SECS", bad)]).expect_err(bad);
        assert_eq!(e.var, "ATLANTIC_BILLING_INTERVAL_SECS");
    }
    let c = resolve(&[("ATLANTIC_BILLING_INTERVAL_SECS", "1")]).expect("valid");
    assert_eq!(c.billing_interval, Duration::from_secs(1));
    let e = resolve(&[("ATLANTIC_METRICS_TOKEN", "short")]).expect_err("short token");
    assert_eq!(e.var, "ATLANTIC_METRICS_TOKEN");
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn addresses_and_database_urls_are_checked() {
    let serve = ServeArgs {
        listen: Some("localhost".into()),
        ..Default::default()
    };
    let e = Config::resolve(&serve, &CommonArgs::default(), &|_| None).expect_err("no port");
    assert_eq!(e.var, "ATLANTIC_LISTEN");
    assert!(e.to_string().contains("localhost"), "{e}");

    assert_eq!(
        database_url(Some("mysql://x")).expect_err("mysql").var,
        "DATABASE_URL"
    );
    assert!(database_url(Some("nonsense")).is_err());
    assert!(database_url(Some("postgres://127.0.0.1/test")).is_ok());
    assert!(database_url(Some("sqlite:///tmp/a.db")).is_ok());
}

#[test]
fn the_webhook_allowlist_takes_ips_and_cidrs_and_names_the_variable() {
    let c = resolve(&[]).expect("defaults");
    assert!(c.paystack_webhook_ips.is_empty(), "unset: no restriction");
    assert_eq!(c.billing_interval, Duration::from_secs(30));
    let c = resolve(&[("ATLANTIC_PAYSTACK_WEBHOOK_IPS", " ")]).expect("empty");
    assert!(c.paystack_webhook_ips.is_empty(), "empty: no restriction");
    let c = resolve(&[("ATLANTIC_PAYSTACK_WEBHOOK_IPS", PAYSTACK_WEBHOOK_IPS)]).expect("ok");
    let ips: Vec<String> = c
        .paystack_webhook_ips
        .iter()
        .map(|n| n.addr().to_string())
        .collect();
    assert_eq!(ips, ["52.31.139.75", "52.49.173.169", "52.214.14.220"]);
    assert!(c.paystack_webhook_ips.iter().all(|n| n.prefix_len() == 32));
    let c = resolve(&[("ATLANTIC_PAYSTACK_WEBHOOK_IPS", "10.0.0.0/8,::1")]).expect("mixed");
    assert_eq!(c.paystack_webhook_ips.len(), 2);
    for bad in ["52.31.139.75, paystack.co", "10.0.0.0/33", "52.31.139"] {
        let e = resolve(&[("ATLANTIC_PAYSTACK_WEBHOOK_IPS", bad)]).expect_err(bad);
        assert_eq!(e.var, "ATLANTIC_PAYSTACK_WEBHOOK_IPS");
        assert!(
            e.to_string().starts_with("ATLANTIC_PAYSTACK_WEBHOOK_IPS: "),
            "{e}"
        );
    }
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let c = resolve(&PRODUCTION).expect("valid");
    let shown = format!("{c:?}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    assert!(!shown.contains("sk_live_abc"), "{shown}");
    assert!(
        shown.contains(c.keyring.version()),
        "the key version is shown: {shown}"
    );
    let dev = format!("{:?}", resolve(&[]).expect("defaults"));
    assert!(!dev.contains(DEVELOPMENT_SECRET), "{dev}");
}

#[test]
fn the_log_format_follows_the_environment_unless_set() {
    assert_eq!(resolve(&[]).expect("dev").log_format, LogFormat::Pretty);
    assert_eq!(
        resolve(&PRODUCTION).expect("production").log_format,
        LogFormat::Json
    );
    let json = resolve(&[("ATLANTIC_LOG_FORMAT", "json")]).expect("json");
    assert_eq!(json.log_format, LogFormat::Json);
    let mut pretty = PRODUCTION.to_vec();
    pretty.push(("ATLANTIC_LOG_FORMAT", "pretty"));
    assert_eq!(
        resolve(&pretty).expect("pretty").log_format,
        LogFormat::Pretty
    );
    let e = resolve(&[("ATLANTIC_LOG_FORMAT", "xml")]).expect_err("unknown format");
    assert_eq!(e.var, "ATLANTIC_LOG_FORMAT");
    assert!(e.to_string().contains("json or pretty"), "{e}");
}
