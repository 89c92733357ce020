//! Request observation: a tracing span per request (with its request id) and Prometheus
//! metrics labelled by matched route, never by raw path, and by method from a fixed set (bounded
//! label cardinality: a client inventing methods or paths cannot grow `/metrics`).

use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, Response, StatusCode, header};
use axum::middleware::Next;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnResponse, MakeSpan, TraceLayer};
use tracing::{Level, Span};

/// The access-log layer: one span per request carrying method, path and request id.
pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(DefaultOnResponse::new().level(Level::INFO))
}

/// Makes the per-request span.
#[derive(Clone, Copy, Debug)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            request_id = %request_id,
            account_id = tracing::field::Empty,
        )
    }
}

/// The request's own span (the one [`RequestSpan`] made), in the request's extensions: inner
/// layers run within spans of their own (the session layer's), where `Span::current()` is not
/// the one whose fields the request's log lines carry.
#[derive(Clone, Debug)]
pub struct RequestLogSpan(pub Span);

impl RequestLogSpan {
    /// Names the signed-in account on every later log line of the request.
    pub fn record_account(&self, account_id: i64) {
        self.0.record("account_id", account_id);
    }
}

/// Counts requests and observes latency by method, matched route and status; hands the
/// request's span to inner layers as a [`RequestLogSpan`].
pub async fn record_metrics(mut request: Request, next: Next) -> Response<Body> {
    // this layer runs directly inside the trace layer: the current span is the request's
    request
        .extensions_mut()
        .insert(RequestLogSpan(Span::current()));
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        // The fallback (static files, 404s) has no matched route: one label, not the path.
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method, "route" => route)
        .record(elapsed);
    response
}

/// The method as a metrics label: the standard methods by name, anything else `other` (any
/// token is a valid HTTP method, so the raw one would be an unbounded label).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// A panic becomes a plain 500 with no internals; the log gets the detail.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "request handler panicked");
    let mut response = Response::new(Body::from("Internal Server Error\n"));
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for made_up in ["FOO", "get", "PROPFIND", "X1"] {
            let method = Method::from_bytes(made_up.as_bytes()).expect("a token");
            assert_eq!(method_label(&method), "other", "{made_up}");
        }
    }
}
