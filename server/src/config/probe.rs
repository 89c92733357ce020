//! `ATLANTIC_PROBE_URL`: where "Test my proxy" (Settings › Connect) sends its request through
//! the gateway. Unset, it is the built-in echo on the web listener (`ATLANTIC_PUBLIC_URL` +
//! `/probe/echo`), which the gateway reaches only when that address is public (or private
//! destinations are allowed, as in development).

use url::Url;

use super::{ConfigError, Env, err};

const VAR: &str = "ATLANTIC_PROBE_URL";

/// Reads and checks `ATLANTIC_PROBE_URL`: an `http://` or `https://` URL with a host and no
/// credentials; `None` when unset.
pub(super) fn probe_url(env: Env) -> Result<Option<Url>, ConfigError> {
    let Some(raw) = env(VAR) else {
        return Ok(None);
    };
    let raw = raw.trim();
    let url = Url::parse(raw).map_err(|e| err(VAR, format!("\"{raw}\" is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err(
            VAR,
            format!("\"{raw}\" must be an http:// or https:// URL"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err(VAR, format!("\"{raw}\" has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err(
            VAR,
            "must not carry credentials (user:password@): the probe target is public",
        ));
    }
    if url.fragment().is_some() {
        return Err(err(VAR, format!("\"{raw}\" must not have a #fragment")));
    }
    Ok(Some(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(value: Option<&str>) -> Result<Option<Url>, ConfigError> {
        let value = value.map(str::to_owned);
        probe_url(&move |name: &str| (name == VAR).then(|| value.clone()).flatten())
    }

    #[test]
    fn unset_is_the_built_in_echo_and_urls_are_checked() {
        assert_eq!(read(None).expect("unset"), None);
        let url = read(Some("https://echo.example.com/ip")).expect("valid");
        assert_eq!(
            url.map(|u| u.to_string()),
            Some("https://echo.example.com/ip".into())
        );
        for bad in [
            "echo.example.com",
            "ftp://echo.example.com/",
            "https://user:pw@echo.example.com/",
            "http://echo.example.com/#x",
        ] {
            let e = read(Some(bad)).expect_err(bad);
            assert_eq!(e.var, VAR, "{bad}");
        }
    }
}
