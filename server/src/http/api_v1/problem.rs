//! The API's errors as RFC 9457 problem details (`application/problem+json`). `type` is
//! `urn:atlantic:problem:CODE`, one code per row of [`Code`]; `title` is fixed per code,
//! `detail` says what was wrong with this request. A store failure is logged and answered
//! with `unavailable` and nothing of its detail.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Every problem the API answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// 401: no token, or one that is malformed, unknown, expired or revoked.
    Unauthorized,
    /// 403: a `read` token on a write route.
    InsufficientScope,
    /// 403: an administrators' route for a customer's token.
    Forbidden,
    /// 404: no such route, or no such object of this account.
    NotFound,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 400: a query parameter or body that cannot be read at all.
    BadRequest,
    /// 422: a well-formed request with a value the API refuses.
    InvalidInput,
    /// 409: the change clashes with what exists (an allowlist entry listed already).
    Conflict,
    /// 429: a rate limit; `Retry-After` says when to try again.
    RateLimited,
    /// 503: the database failed; try again.
    Unavailable,
}

impl Code {
    /// The code's name in `type`.
    pub fn name(self) -> &'static str {
        match self {
            Code::Unauthorized => "unauthorized",
            Code::InsufficientScope => "insufficient_scope",
            Code::Forbidden => "forbidden",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::BadRequest => "bad_request",
            Code::InvalidInput => "invalid_input",
            Code::Conflict => "conflict",
            Code::RateLimited => "rate_limited",
            Code::Unavailable => "unavailable",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::InsufficientScope | Code::Forbidden => StatusCode::FORBIDDEN,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Code::BadRequest => StatusCode::BAD_REQUEST,
            Code::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
            Code::Conflict => StatusCode::CONFLICT,
            Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The fixed title.
    pub fn title(self) -> &'static str {
        match self {
            Code::Unauthorized => "A valid API token is needed",
            Code::InsufficientScope => "The token's scope does not allow this",
            Code::Forbidden => "Administrators only",
            Code::NotFound => "Not found",
            Code::MethodNotAllowed => "Method not allowed",
            Code::BadRequest => "Bad request",
            Code::InvalidInput => "Invalid input",
            Code::Conflict => "Conflict",
            Code::RateLimited => "Too many requests",
            Code::Unavailable => "Unavailable, try again",
        }
    }
}

/// A problem detail (RFC 9457).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:atlantic:problem:CODE`.
    #[serde(rename = "type")]
    #[schema(example = "urn:atlantic:problem:unauthorized")]
    pub kind: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// What was wrong with this request.
    pub detail: String,
    /// Seconds to wait, for `rate_limited`.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// What a handler answers: JSON, or a problem.
pub type ApiResult<T> = Result<Json<T>, Problem>;

/// `bad_request`: a query or body that cannot be read at all.
pub fn bad_request(detail: impl std::fmt::Display) -> Problem {
    Problem::new(Code::BadRequest, detail.to_string())
}

/// `invalid_input`: a value the API refuses.
pub fn invalid(detail: impl Into<String>) -> Problem {
    Problem::new(Code::InvalidInput, detail)
}

/// The prefix of every problem `type`.
pub const TYPE_PREFIX: &str = "urn:atlantic:problem:";

impl Problem {
    /// A problem of `code` with `detail`.
    pub fn new(code: Code, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("{TYPE_PREFIX}{}", code.name()),
            title: code.title().to_owned(),
            status: code.status().as_u16(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// `unauthorized`.
    pub fn unauthorized(detail: &str) -> Problem {
        Problem::new(Code::Unauthorized, detail)
    }

    /// `not_found` for an object of this account that does not exist (or is another's).
    pub fn not_found(what: &str) -> Problem {
        Problem::new(Code::NotFound, format!("no such {what}"))
    }

    /// `unavailable`, the store's error logged.
    pub fn store(error: &store::StoreError) -> Problem {
        tracing::error!(%error, "an API request failed");
        Problem::new(
            Code::Unavailable,
            "the request could not be served, try again",
        )
    }

    /// `rate_limited`, to retry after `secs`.
    pub fn rate_limited(secs: u64) -> Problem {
        Problem {
            retry_after: Some(secs),
            ..Problem::new(
                Code::RateLimited,
                format!("rate limit reached: try again in {secs} s"),
            )
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let unauthorized = status == StatusCode::UNAUTHORIZED;
        let retry_after = self.retry_after;
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"atlantic\""),
            );
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
