//! The built assets under `/pkg`: their names carry a content hash, so browsers may keep them
//! for a year without asking again.

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Response, header};
use tower_http::services::ServeDir;

use crate::state::AppState;

/// Serves `<site_root>/pkg` with `Cache-Control: immutable` on successful answers only. The
/// release build writes `.br` and `.gz` files next to the assets; those are sent as they are
/// to clients that accept them (the compression layer leaves encoded answers alone).
pub fn pkg_service(site_root: &Path) -> Router<AppState> {
    Router::new()
        .fallback_service(
            ServeDir::new(site_root.join("pkg"))
                .precompressed_br()
                .precompressed_gzip(),
        )
        .layer(axum::middleware::map_response(immutable))
}

async fn immutable(mut response: Response<Body>) -> Response<Body> {
    if response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}
