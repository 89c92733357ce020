//! What a form handler answers when it stops short, as one type so handlers can use `?`: back
//! to a page with an [`Outcome`] it shows (303), to `/login`, or a status code with a one-line
//! reason (404, 429, 503). Successes that carry an outcome go back the same way ([`back`]).

use std::time::Duration;

use app::outcome::Outcome;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::auth::password_work::WorkError;

/// Why a form post did not do what it asked.
#[derive(Debug)]
pub enum WebError {
    /// 303 back to the outcome's page, at the section (an element id) when there is one.
    Back(Outcome, Option<&'static str>),
    /// 303 to `/login`: nobody is signed in (any more).
    SignIn,
    /// 404 with the reason.
    NotFound(&'static str),
    /// 429 with `Retry-After`: too many attempts at a password or code.
    TooManyAttempts(Duration),
    /// 503 with the reason; the cause is logged where it happened.
    Unavailable(&'static str),
    /// The password hashing pool's refusal, answered as it answers it.
    PasswordWork(WorkError),
}

impl WebError {
    /// Back to the outcome's page.
    pub fn back(outcome: Outcome) -> WebError {
        WebError::Back(outcome, None)
    }

    /// Back to `section` of the outcome's page.
    pub fn back_to(outcome: Outcome, section: &'static str) -> WebError {
        WebError::Back(outcome, Some(section))
    }
}

impl From<WorkError> for WebError {
    fn from(error: WorkError) -> Self {
        WebError::PasswordWork(error)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::Back(outcome, section) => redirect(outcome, section).into_response(),
            WebError::SignIn => Redirect::to("/login").into_response(),
            WebError::NotFound(reason) => (StatusCode::NOT_FOUND, reason).into_response(),
            WebError::TooManyAttempts(wait) => too_many_attempts(wait),
            WebError::Unavailable(reason) => {
                (StatusCode::SERVICE_UNAVAILABLE, reason).into_response()
            }
            WebError::PasswordWork(error) => error.into_response(),
        }
    }
}

/// 303 to the page that shows `outcome`.
pub fn back(outcome: Outcome) -> Redirect {
    redirect(outcome, None)
}

/// 303 to `section` of the page that shows `outcome`.
pub fn back_to(outcome: Outcome, section: &'static str) -> Redirect {
    redirect(outcome, Some(section))
}

fn redirect(outcome: Outcome, section: Option<&str>) -> Redirect {
    match section {
        Some(section) => Redirect::to(&format!("{}#{section}", outcome.location())),
        None => Redirect::to(&outcome.location()),
    }
}

/// A small page saying when to try again, with `Retry-After`.
fn too_many_attempts(wait: Duration) -> Response {
    crate::telemetry::count_rate_limited("attempts");
    let secs = wait.as_secs().max(1);
    let body = format!(
        "<!DOCTYPE html><title>Too many attempts</title><p>Too many attempts. Try again in {secs} seconds.</p><p><a href=\"/login\">Back to sign-in</a></p>"
    );
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Html(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_go_back_to_their_page_and_section() {
        let response = WebError::back_to(Outcome::NotAnAddress, "allowlist").into_response();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            response.headers()[header::LOCATION],
            "/settings?error=cidr#allowlist"
        );
        let response = back(Outcome::Paid).into_response();
        assert_eq!(response.headers()[header::LOCATION], "/billing?notice=paid");
    }

    #[test]
    fn too_many_attempts_says_when_to_come_back() {
        let response = WebError::TooManyAttempts(Duration::from_millis(10)).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
