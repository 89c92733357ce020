//! The Paystack API client: `POST /transaction/initialize`, `GET /transaction/verify/…`,
//! `POST /transaction/charge_authorization` and `POST /refund`, with timeouts, retries with exponential backoff and jitter for the idempotent verify, and a
//! circuit breaker so that while Paystack is failing, checkout fails fast with a clear message
//! instead of hanging. Requests and outcomes are counted in `/metrics`
//! (`atlantic_paystack_requests_total{op,outcome}`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rand::Rng as _;
use serde::{Deserialize, Serialize};
use url::Url;

/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts for an idempotent call.
const ATTEMPTS: u32 = 3;
/// First retry delay; doubled each time, with up to 50 % jitter.
const BACKOFF: Duration = Duration::from_millis(200);
/// Consecutive failures that open the breaker.
const OPEN_AFTER: u32 = 3;
/// How long the breaker stays open before one call may try again.
const OPEN_FOR: Duration = Duration::from_secs(30);

/// Why a Paystack call failed.
#[derive(Debug, thiserror::Error)]
pub enum PaystackError {
    /// Paystack failed recently; not tried.
    #[error("Paystack is unavailable right now (circuit open)")]
    Unavailable,
    /// No answer: connection, timeout or a 5xx.
    #[error("Paystack did not answer: {0}")]
    Transport(String),
    /// Paystack answered `status: false` (a 4xx): the request itself was refused.
    #[error("Paystack refused the request: {0}")]
    Refused(String),
    /// Paystack answered 404: it has no such transaction (e.g. "Transaction reference not
    /// found").
    #[error("Paystack has no record of it: {0}")]
    NotFound(String),
    /// The answer did not have the documented shape.
    #[error("Paystack's answer was malformed: {0}")]
    Malformed(String),
}

impl PaystackError {
    /// Paystack answered, and no (a 4xx, 404 included): the same request would be answered
    /// the same way, so it is not one to retry.
    pub fn is_refusal(&self) -> bool {
        matches!(self, PaystackError::Refused(_) | PaystackError::NotFound(_))
    }
}

/// `{ "status", "message", "data" }`: every Paystack response.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    status: bool,
    message: String,
    data: Option<T>,
}

/// What `POST /transaction/initialize` takes (the fields we use).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InitializeRequest {
    /// The customer's email.
    pub email: String,
    /// In the currency's subunit (kobo); Paystack takes it as a string or an integer.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// Our unique reference.
    pub reference: String,
    /// Where the customer comes back to.
    pub callback_url: String,
    /// Our own details: account and plan ids.
    pub metadata: serde_json::Value,
}

/// `data` of a successful initialize.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Initialized {
    /// Where to send the customer (single use).
    pub authorization_url: String,
    /// The checkout's access code.
    pub access_code: String,
    /// The reference, as Paystack recorded it.
    pub reference: String,
}

/// `data` of `GET /transaction/verify/{reference}` (the fields we check).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Transaction {
    /// Paystack's transaction id.
    pub id: i64,
    /// abandoned, failed, ongoing, pending, processing, queued, reversed or success.
    pub status: String,
    /// The reference.
    pub reference: String,
    /// Charged, in the subunit.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// ISO 8601 time of payment.
    #[serde(default)]
    pub paid_at: Option<String>,
    /// card, bank, ussd, …
    #[serde(default)]
    pub channel: Option<String>,
    /// What we sent at initialize (Paystack may return it as an object or a string).
    #[serde(default)]
    pub metadata: serde_json::Value,
    /// The card (or other instrument) that paid, when Paystack reports one.
    #[serde(default)]
    pub authorization: Option<Authorization>,
}

impl Transaction {
    /// The authorization code of a card that may be charged again (`reusable: true`), if any.
    pub fn reusable_authorization(&self) -> Option<&str> {
        self.authorization
            .as_ref()
            .filter(|a| a.reusable == Some(true))
            .and_then(|a| a.authorization_code.as_deref())
            .filter(|code| !code.is_empty())
    }
}

/// `data.authorization` of a transaction (the fields we use).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Authorization {
    /// `AUTH_…`: what `charge_authorization` charges.
    #[serde(default)]
    pub authorization_code: Option<String>,
    /// Whether it may be charged again.
    #[serde(default)]
    pub reusable: Option<bool>,
}

/// What `POST /transaction/charge_authorization` takes (the fields we use).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The customer's email (the authorization's owner).
    pub email: String,
    /// In the currency's subunit (kobo).
    pub amount: i64,
    /// The saved card's `AUTH_…` code.
    pub authorization_code: String,
    /// Our unique reference, recorded before the call.
    pub reference: String,
    /// ISO 4217.
    pub currency: String,
    /// Our own details (account, plan, renewed subscription) as a JSON text: Paystack's spec
    /// takes this endpoint's metadata as a string.
    pub metadata: String,
}

/// `data` of a charge attempt (the fields we log; the outcome is settled through verify).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Charge {
    /// success, failed, send_otp, pending, …
    pub status: String,
    /// The reference charged.
    pub reference: String,
    /// The processor's words, e.g. "Approved" or "Declined".
    #[serde(default)]
    pub gateway_response: Option<String>,
}

/// What `POST /refund` takes (the fields we use).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefundRequest {
    /// The reference of the transaction to refund (in full: no `amount`).
    pub transaction: String,
    /// Why, in the customer's words.
    pub customer_note: String,
    /// Why, for our own records on Paystack's dashboard.
    pub merchant_note: String,
}

/// `data` of a refund request (the fields we log; `refund.processed` settles it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Refund {
    /// Paystack's refund id.
    pub id: i64,
    /// pending, processing, processed, failed, needs-attention.
    pub status: String,
    /// In the currency's subunit.
    pub amount: i64,
}

/// A cheaply cloned client.
#[derive(Clone)]
pub struct Paystack {
    http: reqwest::Client,
    base: Url,
    secret_key: Arc<str>,
    breaker: Arc<Breaker>,
}

impl Paystack {
    /// A client for the API at `base` (Paystack's, or the test double's).
    pub fn new(base: Url, secret_key: &str) -> Paystack {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .expect("a reqwest client with rustls builds");
        let base = if base.path().ends_with('/') {
            base
        } else {
            let mut base = base;
            base.set_path(&format!("{}/", base.path()));
            base
        };
        Paystack {
            http,
            base,
            secret_key: Arc::from(secret_key),
            breaker: Arc::new(Breaker::default()),
        }
    }

    /// Whether calls are currently refused without trying (for the Billing page).
    pub fn is_unavailable(&self) -> bool {
        self.breaker.is_open()
    }

    /// Starts a checkout. Not retried: a lost answer would leave a second attempt with a
    /// duplicate reference; the customer simply tries again.
    pub async fn initialize(
        &self,
        request: &InitializeRequest,
    ) -> Result<Initialized, PaystackError> {
        let url = self.url("transaction/initialize")?;
        let call = self
            .http
            .post(url)
            .bearer_auth(&*self.secret_key)
            .json(request);
        self.guarded("initialize", || {
            call.try_clone().expect("a JSON body clones")
        })
        .await
    }

    /// Charges a saved card. Not retried: the reference was recorded before the call, so an
    /// unanswered attempt is settled later by [`Paystack::verify`], never charged twice.
    pub async fn charge_authorization(
        &self,
        request: &ChargeRequest,
    ) -> Result<Charge, PaystackError> {
        let url = self.url("transaction/charge_authorization")?;
        let call = self
            .http
            .post(url)
            .bearer_auth(&*self.secret_key)
            .json(request);
        self.guarded("charge_authorization", || {
            call.try_clone().expect("a JSON body clones")
        })
        .await
    }

    /// Asks for a full refund of a transaction. Not retried here: the caller records the
    /// request once Paystack takes it and asks again on a later run otherwise (Paystack
    /// refuses a second refund of a fully refunded transaction).
    pub async fn refund(&self, request: &RefundRequest) -> Result<Refund, PaystackError> {
        let url = self.url("refund")?;
        let call = self
            .http
            .post(url)
            .bearer_auth(&*self.secret_key)
            .json(request);
        self.guarded("refund", || call.try_clone().expect("a JSON body clones"))
            .await
    }

    /// Looks a transaction up; retried with backoff and jitter.
    pub async fn verify(&self, reference: &str) -> Result<Transaction, PaystackError> {
        let url = self.url(&format!("transaction/verify/{}", urlencode(reference)))?;
        let mut delay = BACKOFF;
        let mut attempt = 1;
        loop {
            let call = self.http.get(url.clone()).bearer_auth(&*self.secret_key);
            match self
                .guarded("verify", || call.try_clone().expect("no body"))
                .await
            {
                Err(PaystackError::Transport(reason)) if attempt < ATTEMPTS => {
                    tracing::warn!(reference, attempt, %reason, "verify failed, retrying");
                    let jitter = rand::rng().random_range(0..=delay.as_millis() as u64 / 2);
                    tokio::time::sleep(delay + Duration::from_millis(jitter)).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn url(&self, path: &str) -> Result<Url, PaystackError> {
        self.base
            .join(path)
            .map_err(|e| PaystackError::Malformed(format!("URL: {e}")))
    }

    /// One call through the breaker, counted.
    async fn guarded<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        request: impl FnOnce() -> reqwest::RequestBuilder,
    ) -> Result<T, PaystackError> {
        if !self.breaker.allow() {
            count(op, "circuit_open");
            return Err(PaystackError::Unavailable);
        }
        let result = send::<T>(request()).await;
        // a refusal is an answer: Paystack is up
        match &result {
            Ok(_) => self.breaker.success(),
            Err(e) if e.is_refusal() => self.breaker.success(),
            Err(_) => self.breaker.failure(),
        }
        count(
            op,
            match &result {
                Ok(_) => "ok",
                Err(e) if e.is_refusal() => "refused",
                Err(PaystackError::Malformed(_)) => "malformed",
                Err(_) => "unavailable",
            },
        );
        result
    }
}

fn count(op: &'static str, outcome: &'static str) {
    metrics::counter!("atlantic_paystack_requests_total", "op" => op, "outcome" => outcome)
        .increment(1);
}

async fn send<T: serde::de::DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> Result<T, PaystackError> {
    let response = request
        .send()
        .await
        .map_err(|e| PaystackError::Transport(e.to_string()))?;
    let status = response.status();
    if status.is_server_error() {
        return Err(PaystackError::Transport(format!("HTTP {status}")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| PaystackError::Transport(e.to_string()))?;
    let envelope: Envelope<T> = serde_json::from_slice(&body)
        .map_err(|e| PaystackError::Malformed(format!("HTTP {status}: {e}")))?;
    match (envelope.status, envelope.data) {
        (true, Some(data)) if status.is_success() => Ok(data),
        (true, _) if status.is_success() => Err(PaystackError::Malformed("no data".to_owned())),
        _ if status == reqwest::StatusCode::NOT_FOUND => {
            Err(PaystackError::NotFound(envelope.message))
        }
        _ => Err(PaystackError::Refused(envelope.message)),
    }
}

/// Percent-encodes a reference for a path segment (ours are `[A-Za-z0-9_-]` already).
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'=' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Consecutive-failure breaker: open after [`OPEN_AFTER`] failures, for [`OPEN_FOR`]; then
/// one call at a time may probe until one succeeds.
#[derive(Default)]
struct Breaker {
    failures: AtomicU32,
    /// Epoch ms until which calls are refused (0: closed).
    open_until: AtomicU64,
}

impl Breaker {
    fn now_ms() -> u64 {
        u64::try_from(store::now_ms()).unwrap_or(0)
    }

    fn is_open(&self) -> bool {
        Self::now_ms() < self.open_until.load(Ordering::Acquire)
    }

    /// Whether a call may go out; a half-open breaker lets one through and re-arms itself so
    /// concurrent callers keep failing fast until that probe reports.
    fn allow(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        let now = Self::now_ms();
        if until == 0
            || now >= until
                && self
                    .open_until
                    .compare_exchange(
                        until,
                        now + OPEN_FOR.as_millis() as u64,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    )
                    .is_ok()
        {
            return true;
        }
        false
    }

    fn success(&self) {
        self.failures.store(0, Ordering::Release);
        self.open_until.store(0, Ordering::Release);
    }

    fn failure(&self) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= OPEN_AFTER {
            self.open_until.store(
                Self::now_ms() + OPEN_FOR.as_millis() as u64,
                Ordering::Release,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_consecutive_failures_and_closes_on_success() {
        let breaker = Breaker::default();
        assert!(breaker.allow());
        breaker.failure();
        breaker.failure();
        assert!(breaker.allow(), "two failures are not an outage");
        breaker.success();
        for _ in 0..OPEN_AFTER {
            breaker.failure();
        }
        assert!(breaker.is_open());
        assert!(!breaker.allow(), "open: fail fast");
        // Half-open once the time is up: one probe, and its success closes the breaker.
        breaker.open_until.store(1, Ordering::Release);
        assert!(breaker.allow(), "the probe goes out");
        assert!(!breaker.allow(), "others still fail fast while it runs");
        breaker.success();
        assert!(!breaker.is_open() && breaker.allow());
    }

    #[test]
    fn references_are_encoded_for_the_path() {
        assert_eq!(urlencode("atl_12_ab-C.9="), "atl_12_ab-C.9=");
        assert_eq!(urlencode("a/b c"), "a%2Fb%20c");
    }
}
