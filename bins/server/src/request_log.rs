//! One structured log line per request: method, path (never the query string, which may carry an OAuth code),
//! status and latency. Bodies and headers are never logged.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Logs a request once its response is ready.
pub async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, %path, status, latency_ms, "request failed");
    } else {
        tracing::info!(%method, %path, status, latency_ms, "request");
    }
    response
}
