//! Live sticky sessions over the API: the account's sessions as the session inspector shows
//! them (from the gateways' latest snapshot, at most a second old), and ending one.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::ApiCaller;
use super::problem::{Code, Problem};
use super::responses::{Reads, Writes};
use crate::state::AppState;

/// A live sticky session.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// The session id (`-session-ID` in the proxy username).
    session: String,
    /// The exit it is bound to; `0` is direct egress.
    exit_id: i64,
    /// The exit's name.
    exit: String,
    /// The exit's country (ISO code, lower case), when known.
    country: Option<String>,
    /// The exit's city, when tagged.
    city: Option<String>,
    /// When the session started, epoch milliseconds.
    started_at_ms: i64,
    /// When it ends unless used again after a move, epoch milliseconds.
    expires_at_ms: i64,
    /// Connections open now.
    open_connections: u32,
    /// Bytes sent toward destinations since it started.
    bytes_up: u64,
    /// Bytes delivered since it started.
    bytes_down: u64,
}

/// The account's live sticky sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionsView {
    /// When the gateways' figures were taken, epoch milliseconds.
    taken_at_ms: i64,
    /// By session id.
    sessions: Vec<SessionView>,
}

/// The account's live sticky sessions, with their exits, time left, open connections and bytes.
#[utoipa::path(
    get, path = "/sessions", tag = "sessions", security(("token" = [])),
    responses(
        (status = 200, description = "The live sessions", body = SessionsView),
        Reads,
    )
)]
pub async fn list_sessions(State(state): State<AppState>, caller: ApiCaller) -> Json<SessionsView> {
    let account = caller.account.id.0;
    let (taken_at_ms, sessions) = state.live.sessions(|s| s.account_id == account);
    Json(SessionsView {
        taken_at_ms,
        sessions: sessions
            .into_iter()
            .map(|s| SessionView {
                session: s.session,
                exit_id: s.exit_id,
                exit: s.exit,
                country: s.country,
                city: s.city,
                started_at_ms: s.started_at_ms,
                expires_at_ms: s.expires_at_ms,
                open_connections: s.open_connections,
                bytes_up: s.bytes_up,
                bytes_down: s.bytes_down,
            })
            .collect(),
    })
}

/// Ends a live sticky session: its binding goes (the next request with its id picks an exit
/// anew) and its open connections close, on every gateway.
#[utoipa::path(
    delete, path = "/sessions/{session}", tag = "sessions", security(("token" = [])),
    params(("session" = String, Path, description = "The session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No live session of this account by that id", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The gateways could not be reached", body = Problem, content_type = "application/problem+json"),
        Writes,
    )
)]
pub async fn end_session(
    State(state): State<AppState>,
    caller: ApiCaller,
    session: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, Problem> {
    let Ok(Path(session)) = session else {
        return Err(Problem::not_found("session"));
    };
    let account = caller.account.id;
    match state.gateways.end_session(account.0, &session).await {
        Ok(true) => {}
        Ok(false) => return Err(Problem::not_found("session")),
        Err(error) => {
            tracing::error!(%error, "ending a session failed");
            return Err(Problem::new(
                Code::Unavailable,
                "the gateways could not be reached; try again",
            ));
        }
    }
    let mut detail = caller.via();
    detail["session"] = json!(session);
    detail["by"] = json!("customer");
    caller
        .client
        .record(&state.db, Some(account), "session.ended", detail)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
