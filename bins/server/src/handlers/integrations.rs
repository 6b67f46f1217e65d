//! Integrations and their actions: `GET /integrations`, `GET/PATCH/DELETE /integrations/{id}`,
//! `POST /integrations/{id}/actions`, `GET/PATCH /actions/{id}`. Auth secrets are always masked.

use super::parse_id;
use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use cutover_integrations_core::IntegrationEdit;
use cutover_integrations_core::store::{ActionId, IntegrationId};
use serde::Deserialize;
use serde_json::Value;

/// The body of `PATCH /integrations/{id}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntegrationPatch {
    #[serde(default)]
    image_url: Option<String>,
    #[serde(default)]
    archived: Option<bool>,
}

fn integration_id(text: &str) -> Result<IntegrationId, ApiError> {
    parse_id(text, "integration").map(IntegrationId)
}

fn action_id(text: &str) -> Result<ActionId, ApiError> {
    parse_id(text, "action").map(ActionId)
}

/// Every integration with its actions, archived ones included.
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let integrations = state.engine.integrations_redacted().await?;
    Ok(Json(Value::Array(integrations.iter().map(views::integration).collect())))
}

/// One integration.
pub(crate) async fn get(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let record = state.engine.integration(integration_id(&id)?).await?;
    Ok(Json(views::integration(&record)))
}

/// Changes an integration's icon or archived flag.
pub(crate) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<IntegrationPatch>,
) -> Result<Json<Value>, ApiError> {
    let edit = IntegrationEdit { image_url: patch.image_url, archived: patch.archived };
    let record = state.engine.edit_integration(integration_id(&id)?, &edit).await?;
    Ok(Json(views::integration(&record)))
}

/// Archives an integration: its history stays, its actions no longer fire.
pub(crate) async fn archive(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let edit = IntegrationEdit { image_url: None, archived: Some(true) };
    let record = state.engine.edit_integration(integration_id(&id)?, &edit).await?;
    Ok(Json(views::integration(&record)))
}

/// Adds an action (an action definition as JSON) to an integration.
pub(crate) async fn add_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(action): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let record = state.engine.add_action(integration_id(&id)?, &action).await?;
    Ok((StatusCode::CREATED, Json(views::action(&record))))
}

/// One action.
pub(crate) async fn get_action(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let record = state.engine.action_record(action_id(&id)?).await?;
    Ok(Json(views::action(&record)))
}

/// Edits an action with a JSON merge patch; `[REDACTED]` secrets keep their stored value.
pub(crate) async fn patch_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let record = state.engine.patch_action(action_id(&id)?, &patch).await?;
    Ok(Json(views::action(&record)))
}
