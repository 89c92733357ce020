//! Who is calling the API: [`authenticate`] reads `Authorization: Bearer atl_…` (nothing
//! else: no cookie, no query parameter), finds the active token in the database on every
//! request (so a revocation applies at once), loads its account and puts an [`ApiCaller`] in
//! the request. The route layers then check the scope or role and take from the rate
//! buckets: [`read`], [`costly`], [`write`] (needs `read_write`), [`admin`] (needs an
//! administrator's token).

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use store::accounts::{Account, Role};
use store::api_tokens::{ApiToken, Scope};

use super::problem::{Code, Problem};
use crate::activity::Client;
use crate::http::client_ip::ClientIp;
use crate::http::observe::RequestLogSpan;
use crate::http::rate_limit::public_api::{self, Kind};
use crate::state::AppState;

/// The token a request came with and its account.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    /// The token (never its value).
    pub token: ApiToken,
    /// Its account, as loaded for this request.
    pub account: Account,
    /// The client's address and agent, for the activity log.
    pub client: Client,
}

impl ApiCaller {
    /// The activity detail naming the token a change was made with.
    pub fn via(&self) -> serde_json::Value {
        json!({ "via": "api_token", "token_id": self.token.id })
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Problem> {
        parts
            .extensions
            .get::<ApiCaller>()
            .cloned()
            .ok_or_else(|| Problem::unauthorized("send an API token: Authorization: Bearer atl_…"))
    }
}

/// The bearer token of the request, if it has an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The layer on every authenticated API route: 401 without an active token.
pub async fn authenticate(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(value) = bearer(request.headers()) else {
        return Problem::unauthorized("send an API token: Authorization: Bearer atl_…")
            .into_response();
    };
    let now = store::now_ms();
    let token = match store::api_tokens::authenticate(&state.db, value, now).await {
        Ok(Some(token)) => token,
        Ok(None) => {
            return Problem::unauthorized("the token is invalid, expired or revoked")
                .into_response();
        }
        Err(error) => return Problem::store(&error).into_response(),
    };
    let account = match store::accounts::by_id(&state.db, token.account_id).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            return Problem::unauthorized("the token is invalid, expired or revoked")
                .into_response();
        }
        Err(error) => return Problem::store(&error).into_response(),
    };
    if let Some(span) = request.extensions().get::<RequestLogSpan>() {
        span.record_account(account.id.get());
    }
    let client = Client::of(request.headers(), ip);
    // At most one `api_token.used` an hour per token, however often a script calls. The
    // row just read says whether an hour has passed, so most requests write nothing; the
    // store's compare-and-set settles racing ones.
    let due = token
        .last_used_at
        .is_none_or(|at| at <= now - store::api_tokens::USE_RECORDED_EVERY_MS);
    let noted = if due {
        store::api_tokens::note_use(&state.db, token.id, now).await
    } else {
        Ok(false)
    };
    match noted {
        Ok(true) => {
            let detail = json!({ "token_id": token.id, "name": token.name });
            client
                .record(&state.db, Some(account.id), "api_token.used", detail)
                .await;
        }
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, "noting an API token's use failed"),
    }
    request.extensions_mut().insert(ApiCaller {
        token,
        account,
        client,
    });
    next.run(request).await
}

/// Takes from the caller's buckets, runs the request and sets the rate-limit headers; 429
/// problem when a bucket is empty.
async fn limited(state: &AppState, kind: Kind, request: Request, next: Next) -> Response {
    let Some(caller) = request.extensions().get::<ApiCaller>() else {
        return Problem::unauthorized("send an API token: Authorization: Bearer atl_…")
            .into_response();
    };
    match public_api::take(state, caller.account.id.get(), kind).await {
        Ok(allowed) => {
            let mut response = next.run(request).await;
            allowed.set_headers(response.headers_mut());
            response
        }
        Err(refused) => {
            let mut response = Problem::rate_limited(refused.retry_after_secs).into_response();
            refused.set_headers(response.headers_mut());
            response
        }
    }
}

fn caller(request: &Request) -> Option<&ApiCaller> {
    request.extensions().get::<ApiCaller>()
}

/// A route layer for reads.
pub async fn read(State(state): State<AppState>, request: Request, next: Next) -> Response {
    limited(&state, Kind::Read, request, next).await
}

/// A route layer for reads that aggregate a lot (usage).
pub async fn costly(State(state): State<AppState>, request: Request, next: Next) -> Response {
    limited(&state, Kind::Costly, request, next).await
}

/// A route layer for changes: 403 for a `read` token.
pub async fn write(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if caller(&request).is_some_and(|c| c.token.scope != Scope::ReadWrite) {
        return Problem::new(
            Code::InsufficientScope,
            "this route changes the account: it needs a read_write token",
        )
        .into_response();
    }
    limited(&state, Kind::Write, request, next).await
}

/// A route layer for the administrators' routes: 403 for a customer's token.
pub async fn admin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if caller(&request).is_some_and(|c| c.account.role != Role::Admin) {
        return Problem::new(Code::Forbidden, "this route is for administrators' tokens")
            .into_response();
    }
    limited(&state, Kind::Read, request, next).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn only_a_bearer_authorization_is_read() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dTpw"),
        );
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  atl_x "),
        );
        assert_eq!(bearer(&headers), Some("atl_x"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer"));
        assert_eq!(bearer(&headers), None);
    }
}
