//! Upstream exits (residential HTTP and SOCKS5 proxies the gateway relays through) and their
//! health.
//!
//! An exit's URL is stored twice: sealed with its credentials in `url_sealed` (see
//! [`crate::sealing`]), and with the password replaced by `***` in `url`, the exit's unique
//! identity that lists show. Every function here returns the URL opened.

use crate::{Column, Db, ExitId, Flag, Result, StoreError, flag, found, redact_url};

crate::text_enum! {
    /// The protocol spoken to the exit.
    pub enum ExitKind {
        /// An HTTP proxy (CONNECT).
        Http => "http",
        /// A SOCKS5 proxy.
        Socks5 => "socks5",
    }
}

crate::text_enum! {
    /// The last health check's verdict.
    pub enum Health {
        /// Not checked yet.
        Unknown => "unknown",
        /// The last check passed.
        Healthy => "healthy",
        /// The last check failed.
        Unhealthy => "unhealthy",
    }
}

/// A row of `exits`. `Debug` shows the URL without its password.
#[derive(Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct Exit {
    /// The exit's id.
    pub id: ExitId,
    /// Display name, shown to customers: never the upstream's address (defaults to
    /// `CC #id`).
    pub name: String,
    /// Canonical `scheme://[user:pass@]host:port` (opened from `url_sealed`); unique apart
    /// from the password.
    pub url: String,
    /// Protocol, from the URL's scheme.
    pub kind: ExitKind,
    /// Lower-case ISO 3166-1 alpha-2 country.
    pub country: String,
    /// City, if targeted by city.
    pub city: Option<String>,
    /// Exit pool name, `default` unless given.
    pub pool: String,
    /// Disabled exits are never chosen.
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    /// Relative share of traffic within its pool.
    pub weight: i64,
    /// The gateway sends destination names to this upstream rather than checked addresses.
    #[sqlx(try_from = "Flag")]
    pub forward_names: bool,
    /// Last health verdict.
    pub health: Health,
    /// When it was last checked (epoch ms).
    pub last_check_at: Option<i64>,
    /// Latency of the last successful check.
    pub last_latency_ms: Option<i64>,
    /// Passed checks so far.
    pub success_count: i64,
    /// Failed checks so far.
    pub failure_count: i64,
    /// Why the last check failed.
    pub last_error: Option<String>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds.
    pub updated_at: i64,
}

impl Exit {
    /// The URL with any password replaced by `***`, for lists and logs.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }
}

impl std::fmt::Debug for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exit")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("url", &self.display_url())
            .field("kind", &self.kind)
            .field("country", &self.country)
            .field("city", &self.city)
            .field("pool", &self.pool)
            .field("enabled", &self.enabled)
            .field("weight", &self.weight)
            .field("forward_names", &self.forward_names)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

/// A row as read: the exit with `url` redacted, and the sealed URL (`None` only for a row
/// the sealing migration has not reached, which [`SealedExit::open`] refuses).
#[derive(sqlx::FromRow)]
struct SealedExit {
    #[sqlx(flatten)]
    exit: Exit,
    url_sealed: Option<String>,
}

impl SealedExit {
    fn open(self, db: &Db) -> Result<Exit> {
        let SealedExit {
            mut exit,
            url_sealed,
        } = self;
        let id = exit.id.get();
        let sealed = url_sealed.ok_or(crate::SealError::Plaintext {
            column: Column::ExitUrl.name(),
            row: id,
        })?;
        exit.url = db.keyring().open(Column::ExitUrl, id, &sealed)?;
        Ok(exit)
    }
}

const COLUMNS: &str = "id, name, url, url_sealed, kind, country, city, pool, enabled, weight, \
                       forward_names, health, last_check_at, last_latency_ms, success_count, failure_count, \
                       last_error, created_at, updated_at";

/// An exit to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExit<'a> {
    /// `http://[user:pass@]host:port` or `socks5://…`.
    pub url: &'a str,
    /// ISO 3166-1 alpha-2, any case.
    pub country: &'a str,
    /// City, if any.
    pub city: Option<&'a str>,
    /// Pool name; `None` is `default`.
    pub pool: Option<&'a str>,
    /// Display name shown to customers; `None` is `CC #id`.
    pub name: Option<&'a str>,
    /// Traffic share; `None` is 1.
    pub weight: Option<i64>,
    /// Send destination names to the upstream (default: checked addresses).
    pub forward_names: bool,
}

impl<'a> NewExit<'a> {
    /// An exit at `url` in `country`, everything else defaulted.
    pub fn new(url: &'a str, country: &'a str) -> Self {
        Self {
            url,
            country,
            city: None,
            pool: None,
            name: None,
            weight: None,
            forward_names: false,
        }
    }
}

/// A checked exit URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitUrl {
    /// From the scheme.
    pub kind: ExitKind,
    /// `scheme://[user[:pass]@]host:port`, always with the port.
    pub canonical: String,
    /// `host:port`, for operators' messages (never a customer's).
    pub host_port: String,
}

/// Checks an exit URL: scheme `http` or `socks5`, a host, an explicit port, optional
/// `user:pass@`, and nothing else (no path, query or fragment).
pub fn parse_exit_url(input: &str) -> Result<ExitUrl> {
    let input = input.trim();
    let invalid = |why: &str| {
        StoreError::Invalid(format!(
            "`{}` is not an exit URL ({why}): use http://[user:pass@]host:port or \
             socks5://[user:pass@]host:port",
            redact_url(input)
        ))
    };
    let url = url::Url::parse(input).map_err(|e| invalid(&e.to_string()))?;
    let kind = match url.scheme() {
        "http" => ExitKind::Http,
        "socks5" => ExitKind::Socks5,
        other => return Err(invalid(&format!("scheme `{other}`"))),
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        _ => return Err(invalid("no host")),
    };
    // `Url` drops a port equal to the scheme's default (80 for http), so look at the
    // authority as written to insist on an explicit port.
    let authority = input
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    let host_part = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let explicit_port = host_part.rsplit_once(':').is_some_and(|(h, p)| {
        !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':')
    });
    let port = match url.port_or_known_default() {
        Some(port) if explicit_port && port != 0 => port,
        _ => return Err(invalid("no port")),
    };
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("path, query or fragment"));
    }
    let userinfo = match (url.username(), url.password()) {
        ("", None) => String::new(),
        ("", Some(_)) => return Err(invalid("a password without a user")),
        (user, None) => format!("{user}@"),
        (user, Some(pass)) => format!("{user}:{pass}@"),
    };
    let host_port = format!("{host}:{port}");
    Ok(ExitUrl {
        kind,
        canonical: format!("{}://{userinfo}{host_port}", kind.as_str()),
        host_port,
    })
}

fn valid_pool(pool: &str) -> bool {
    (1..=32).contains(&pool.len())
        && pool
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Adds an exit. `Invalid` for a bad URL, country, pool or weight; `Conflict` if an exit
/// with the same URL exists (passwords aside: the same user at the same proxy is one exit).
pub async fn add(db: &Db, new: &NewExit<'_>, now_ms: i64) -> Result<Exit> {
    let url = parse_exit_url(new.url)?;
    let country = new.country.trim().to_ascii_lowercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_lowercase()) {
        return Err(StoreError::Invalid(format!(
            "`{}` is not a two-letter country code",
            new.country
        )));
    }
    let pool = new.pool.map_or("default", str::trim).to_ascii_lowercase();
    if !valid_pool(&pool) {
        return Err(StoreError::Invalid(format!(
            "`{pool}` is not a pool name (1–32 of a-z, 0-9, _ and -)"
        )));
    }
    let weight = new.weight.unwrap_or(1);
    if !(0..=1_000_000).contains(&weight) {
        return Err(StoreError::Invalid(
            "an exit's weight is 0 to 1000000".to_owned(),
        ));
    }
    let city = new.city.map(str::trim).filter(|c| !c.is_empty());
    let name = new.name.map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = name
        && (name.chars().count() > 64 || name.contains(&url.host_port))
    {
        return Err(StoreError::Invalid(
            "an exit's name is at most 64 characters and must not contain its address \
             (customers see it)"
                .to_owned(),
        ));
    }
    // without a name, `CC #id` once the id is known (customers must never see the address)
    let sql = format!(
        "INSERT INTO exits (name, url, kind, country, city, pool, weight, forward_names, \
         created_at, updated_at) VALUES (COALESCE($1, ''), $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         RETURNING {COLUMNS}"
    );
    // The row id is part of the sealed value's associated data, so the URL is sealed once the
    // row exists, in the same transaction: no one ever sees the row without it.
    let mut tx = db.pool().begin().await?;
    let SealedExit { mut exit, .. } = sqlx::query_as::<_, SealedExit>(&sql)
        .bind(name)
        .bind(redact_url(&url.canonical))
        .bind(url.kind.as_str())
        .bind(country)
        .bind(city)
        .bind(pool)
        .bind(weight)
        .bind(flag(new.forward_names))
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::conflict_as(format!(
            "an exit with the URL {} exists already",
            redact_url(&url.canonical)
        )))?;
    // without a name, `CC #id` now that the id is known
    if exit.name.is_empty() {
        exit.name = format!("{} #{}", exit.country.to_ascii_uppercase(), exit.id.get());
    }
    let sealed = db
        .keyring()
        .seal(Column::ExitUrl, exit.id.get(), &url.canonical);
    sqlx::query("UPDATE exits SET url_sealed = $1, name = $2 WHERE id = $3")
        .bind(sealed)
        .bind(&exit.name)
        .bind(exit.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    exit.url = url.canonical;
    Ok(exit)
}

/// Every exit, by pool, country and id.
pub async fn list(db: &Db) -> Result<Vec<Exit>> {
    let sql = format!("SELECT {COLUMNS} FROM exits ORDER BY pool, country, id");
    sqlx::query_as::<_, SealedExit>(&sql)
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .map(|row| row.open(db))
        .collect()
}

/// The exit with this id.
pub async fn by_id(db: &Db, id: ExitId) -> Result<Option<Exit>> {
    let sql = format!("SELECT {COLUMNS} FROM exits WHERE id = $1");
    sqlx::query_as::<_, SealedExit>(&sql)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .map(|row| row.open(db))
        .transpose()
}

/// Removes an exit; `NotFound` if there is none with this id. Its usage history stays.
pub async fn remove(db: &Db, id: ExitId) -> Result<()> {
    let done = sqlx::query("DELETE FROM exits WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    found(done.rows_affected())
}

/// Takes an exit in or out of rotation.
pub async fn set_enabled(db: &Db, id: ExitId, enabled: bool, now_ms: i64) -> Result<()> {
    let done = sqlx::query("UPDATE exits SET enabled = $1, updated_at = $2 WHERE id = $3")
        .bind(flag(enabled))
        .bind(now_ms)
        .bind(id)
        .execute(db.pool())
        .await?;
    found(done.rows_affected())
}

/// The result of one health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck<'a> {
    /// The exit relayed the probe in this many milliseconds.
    Passed {
        /// Round-trip time of the probe.
        latency_ms: i64,
    },
    /// The probe failed.
    Failed {
        /// Why (kept as `last_error`).
        error: &'a str,
    },
}

/// Records a health check: sets the verdict and check time, counts the pass or failure,
/// and keeps the latency or error.
pub async fn record_health(
    db: &Db,
    id: ExitId,
    check: &HealthCheck<'_>,
    now_ms: i64,
) -> Result<()> {
    let done =
        match check {
            HealthCheck::Passed { latency_ms } => sqlx::query(
                "UPDATE exits SET health = 'healthy', last_check_at = $1, last_latency_ms = $2, \
                     success_count = success_count + 1, last_error = NULL WHERE id = $3",
            )
            .bind(now_ms)
            .bind((*latency_ms).max(0))
            .bind(id)
            .execute(db.pool())
            .await?,
            HealthCheck::Failed { error } => {
                let error: String = error.chars().take(500).collect();
                sqlx::query(
                    "UPDATE exits SET health = 'unhealthy', last_check_at = $1, \
                     failure_count = failure_count + 1, last_error = $2 WHERE id = $3",
                )
                .bind(now_ms)
                .bind(error)
                .bind(id)
                .execute(db.pool())
                .await?
            }
        };
    found(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_urls_are_canonical_with_an_explicit_port() {
        let u = parse_exit_url("http://user:pa%40ss@Proxy.Example.com:80").expect("valid");
        assert_eq!(u.kind, ExitKind::Http);
        assert_eq!(u.canonical, "http://user:pa%40ss@proxy.example.com:80");
        assert_eq!(u.host_port, "proxy.example.com:80");
        let u = parse_exit_url("socks5://[2001:db8::1]:1080/").expect("valid");
        assert_eq!(u.kind, ExitKind::Socks5);
        assert_eq!(u.canonical, "socks5://[2001:db8::1]:1080");
        let u = parse_exit_url("socks5://10.0.0.1:1080").expect("valid");
        assert_eq!(u.canonical, "socks5://10.0.0.1:1080");
    }

    #[test]
    fn junk_exit_urls_are_refused() {
        for bad in [
            "",
            "junk",
            "proxy.example.com:8080",
            "https://proxy.example.com:443",
            "ftp://proxy.example.com:21",
            "http://proxy.example.com",
            "http://proxy.example.com:",
            "http://:8080",
            "socks5://proxy.example.com:1080/path",
            "http://proxy.example.com:8080?x=1",
            "http://proxy.example.com:99999",
            "http://:secret@proxy.example.com:8080",
        ] {
            assert!(parse_exit_url(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn refusals_do_not_echo_passwords() {
        let Err(err) = parse_exit_url("ftp://u:hunter2@h:1") else {
            panic!("ftp is refused");
        };
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
