//! `atlantic healthcheck [--url URL]`: asks a running service whether it is alive, for
//! container health checks (the image has no curl or wget). Exit 0 when `GET /live` answers
//! 2xx; otherwise exit 1 (what Docker reads as unhealthy) with one line saying why.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::config;

/// How long the whole check may take; Docker's own timeout should be longer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// `atlantic healthcheck`'s flags.
#[derive(Args, Debug)]
pub struct HealthcheckArgs {
    /// The URL to GET (default: `http://127.0.0.1:PORT/live`, PORT from
    /// `--listen`/`ATLANTIC_LISTEN`; a wildcard listen address is checked on loopback).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
}

/// Runs the check; `listen` is `--listen`/`ATLANTIC_LISTEN` as given.
pub fn run(args: &HealthcheckArgs, listen: Option<&str>) -> ExitCode {
    match check(args, listen) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("atlantic: healthcheck: {reason}");
            // never 2: Docker reserves it
            ExitCode::FAILURE
        }
    }
}

fn check(args: &HealthcheckArgs, listen: Option<&str>) -> Result<(), String> {
    let url = match args.url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => url.to_owned(),
        _ => {
            let listen = listen.map(str::trim).filter(|l| !l.is_empty());
            let addr = config::listen_address(listen).map_err(|e| e.to_string())?;
            live_url(addr)
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(get(&url))
}

/// `http://ADDR/live`, a wildcard address replaced by loopback of its family.
fn live_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/live", SocketAddr::new(ip, addr.port()))
}

async fn get(url: &str) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT)
        // a proxy set for the service's own traffic must not stand between it and its probe
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let response = client.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("GET {url}: no answer within {} s", TIMEOUT.as_secs())
        } else {
            format!("GET {url}: {}", root_cause(&e))
        }
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("GET {url} answered {status}"))
    }
}

/// The innermost cause ("Connection refused (os error 111)"): reqwest's own layers only
/// repeat the URL.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn a_wildcard_listen_address_is_checked_on_loopback() {
        assert_eq!(live_url(addr("0.0.0.0:3000")), "http://127.0.0.1:3000/live");
        assert_eq!(live_url(addr("[::]:3100")), "http://[::1]:3100/live");
        assert_eq!(live_url(addr("10.0.0.5:8000")), "http://10.0.0.5:8000/live");
    }

    #[test]
    fn the_default_is_the_serve_default() {
        let args = HealthcheckArgs { url: None };
        let url = config::listen_address(None).map(live_url).expect("default");
        assert_eq!(url, "http://127.0.0.1:3000/live");
        let err = check(&args, Some("localhost")).expect_err("not an address");
        assert!(err.contains("ATLANTIC_LISTEN"), "{err}");
    }
}
