//! `GET /healthz`, `GET /metrics` (Prometheus text), `GET /openapi.json` and `GET /schema/definition.json` (the JSON
//! Schema of definition files), all unauthenticated.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

/// The answer of `GET /healthz`.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct Health {
    /// `ok` (200) when the database answers, `unavailable` (503) otherwise.
    status: HealthStatus,
}

/// Whether the server can work.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum HealthStatus {
    /// The database answers.
    Ok,
    /// It does not.
    Unavailable,
}

/// `ok` when the database answers, 503 otherwise.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    match state.engine.custom_fields().await {
        Ok(_) => Json(Health { status: HealthStatus::Ok }).into_response(),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: HealthStatus::Unavailable })).into_response()
        }
    }
}

/// Metrics in the Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(&state.engine)).into_response()
}

/// The OpenAPI 3.1 document of every route, generated from the route table.
pub(crate) async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// The JSON Schema of definition files, generated from the model's types (`cutover schema` prints the same).
pub(crate) async fn definition_schema() -> Response {
    let schema = cutover_integrations_core::model::definition_schema();
    ([(CONTENT_TYPE, "application/schema+json")], schema.to_string()).into_response()
}
