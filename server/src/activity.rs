//! Best-effort entries in the customer's activity log. The log tells the customer what
//! happened; it is not part of the change it describes, so a failure to write an entry is
//! logged and never fails (or undoes) the request or the job that caused it.

use axum::http::{HeaderMap, header};
use serde_json::Value;
use store::activity::NewActivity;
use store::{AccountId, Db};

/// The request behind an event: the client's address and its browser.
#[derive(Clone, Debug)]
pub struct Client {
    /// The client's address (behind trusted proxies, the forwarded one).
    pub ip: String,
    /// Its `User-Agent`, if any.
    pub user_agent: Option<String>,
}

impl Client {
    /// The client at `ip`, with the `User-Agent` of its request.
    pub fn of(headers: &HeaderMap, ip: std::net::IpAddr) -> Client {
        Client {
            ip: ip.to_string(),
            user_agent: headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }

    /// The client at `ip`, recorded without its browser.
    pub fn at(ip: std::net::IpAddr) -> Client {
        Client {
            ip: ip.to_string(),
            user_agent: None,
        }
    }

    /// [`record`]s an event this client's request caused.
    pub async fn record(&self, db: &Db, account: Option<AccountId>, kind: &str, detail: Value) {
        record(db, account, kind, Some(self), detail).await;
    }
}

/// Records an event of `kind` for `account`, caused by `client`'s request if any, with
/// `detail` (`Value::Null` is stored as `{}`).
pub async fn record(
    db: &Db,
    account: Option<AccountId>,
    kind: &str,
    client: Option<&Client>,
    detail: Value,
) {
    let event = NewActivity {
        detail,
        ip: client.map(|c| c.ip.as_str()),
        user_agent: client.and_then(|c| c.user_agent.as_deref()),
        ..NewActivity::new(account, kind)
    };
    if let Err(error) = store::activity::record(db, &event, store::now_ms()).await {
        tracing::warn!(%error, kind, "recording activity failed");
    }
}
