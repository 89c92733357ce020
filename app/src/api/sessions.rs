//! Ending a live sticky session from the session inspector: its binding goes, so the next
//! request with its id picks an exit anew, and its open connections close on every gateway.
//! A customer ends its own sessions; an administrator any account's. An activity event
//! (`session.ended`) records it on the session's account.

use leptos::prelude::*;

/// Ends `session` of the viewer's account, or for administrators of `account_id` (empty: the
/// viewer's own).
#[server(endpoint = "sessions/end")]
pub async fn end_session(session: String, account_id: String) -> Result<(), ServerFnError> {
    use crate::api::access;
    use crate::api::session::ssr::{SessionEnder, viewer};
    let (db, own) = access::signed_in()?;
    let admin = viewer().is_some_and(|v| v.admin);
    let account = match account_id.trim() {
        "" => own,
        id => match id.parse::<i64>() {
            Ok(id) if id == own.0 => own,
            Ok(id) if admin => store::AccountId(id),
            _ => {
                access::set_status(http::StatusCode::NOT_FOUND);
                return Err(ServerFnError::new("no such session"));
            }
        },
    };
    let session = session.trim().to_owned();
    if session.is_empty() || session.len() > 256 {
        access::set_status(http::StatusCode::UNPROCESSABLE_ENTITY);
        return Err(ServerFnError::new("name the session to end"));
    }
    let Some(SessionEnder(end)) = use_context::<SessionEnder>() else {
        access::set_status(http::StatusCode::SERVICE_UNAVAILABLE);
        return Err(ServerFnError::new("no gateway to reach"));
    };
    match end(account.0, session.clone()).await {
        Ok(true) => {
            let by = if account == own {
                "customer"
            } else {
                "administrator"
            };
            let event = store::activity::NewActivity {
                detail: serde_json::json!({ "session": session, "by": by }),
                ..store::activity::NewActivity::new(Some(account), "session.ended")
            };
            if let Err(error) = store::activity::record(&db, &event, store::now_ms()).await {
                tracing::warn!(%error, "recording activity failed");
            }
            Ok(())
        }
        Ok(false) => {
            access::set_status(http::StatusCode::NOT_FOUND);
            Err(ServerFnError::new("that session has already ended"))
        }
        Err(error) => {
            tracing::error!(%error, "ending a session failed");
            access::set_status(http::StatusCode::SERVICE_UNAVAILABLE);
            Err(ServerFnError::new(
                "the gateways could not be reached; try again",
            ))
        }
    }
}
