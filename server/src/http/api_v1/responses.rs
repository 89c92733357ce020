//! The error responses routes share, for the OpenAPI document: each route's
//! `#[utoipa::path(responses(...))]` names one of these next to what is its own (its success,
//! its 404 or 422), instead of repeating the same problem rows.
//!
//! - [`Reads`]: every authenticated route can answer 401 (no valid token) and 429 (rate
//!   limited).
//! - [`Writes`]: a route that changes the account, also 403 for a `read` token.
//! - [`Administrators`]: an administrators' route, also 403 for a customer's token.
//! - [`BadQuery`]: a route with query parameters, 400 for one that cannot be read.

use utoipa::IntoResponses;

use super::problem::Problem;

/// The problems of every authenticated route.
#[derive(IntoResponses)]
#[allow(dead_code)] // only described, never built: the layers answer with a `Problem`
pub enum Reads {
    #[response(
        status = 401,
        description = "No valid token",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 429,
        description = "Rate limited",
        content_type = "application/problem+json"
    )]
    RateLimited(Problem),
}

/// The problems of a route that changes the account.
#[derive(IntoResponses)]
#[allow(dead_code)] // only described, never built
pub enum Writes {
    #[response(
        status = 401,
        description = "No valid token",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "A read token",
        content_type = "application/problem+json"
    )]
    InsufficientScope(Problem),
    #[response(
        status = 429,
        description = "Rate limited",
        content_type = "application/problem+json"
    )]
    RateLimited(Problem),
}

/// The problems of an administrators' route.
#[derive(IntoResponses)]
#[allow(dead_code)] // only described, never built
pub enum Administrators {
    #[response(
        status = 401,
        description = "No valid token",
        content_type = "application/problem+json"
    )]
    Unauthorized(Problem),
    #[response(
        status = 403,
        description = "Not an administrator's token",
        content_type = "application/problem+json"
    )]
    Forbidden(Problem),
    #[response(
        status = 429,
        description = "Rate limited",
        content_type = "application/problem+json"
    )]
    RateLimited(Problem),
}

/// The problem of a route with query parameters when one cannot be read at all (a number
/// too large for its type, say); a value that reads but is refused is its route's 422.
#[derive(IntoResponses)]
#[allow(dead_code)] // only described, never built
pub enum BadQuery {
    #[response(
        status = 400,
        description = "A query parameter that cannot be read",
        content_type = "application/problem+json"
    )]
    BadRequest(Problem),
}
