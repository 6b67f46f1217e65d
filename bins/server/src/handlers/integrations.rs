//! Integrations and their actions: `GET /integrations`, `GET/PATCH/DELETE /integrations/{id}`,
//! `POST /integrations/{id}/actions`, `GET/PATCH /actions/{id}`. Auth secrets are always masked.

use super::parse_id;
use crate::AppState;
use crate::body::JsonBody;
use crate::body::MergePatch;
use crate::error::ApiError;
use crate::paging::{self, ListQuery};
use crate::preconditions::{IfMatch, tagged};
use crate::views;
use crate::views::Page;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use cutover_integrations_core::IntegrationEdit;
use cutover_integrations_core::model::{Action, AuthSettings, AuthenticateAs};
use cutover_integrations_core::store::{ActionId, IntegrationId};
use schemars::JsonSchema;
use serde::Deserialize;

/// The body of `PATCH /integrations/{id}`: the members to change.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntegrationPatch {
    /// A new name; refused (422 at `name`) while a runbook's task names the integration.
    #[serde(default)]
    name: Option<String>,
    /// A new icon URL.
    #[serde(default)]
    image_url: Option<String>,
    /// Archive (`true`) or restore (`false`).
    #[serde(default)]
    archived: Option<bool>,
}

fn integration_id(text: &str) -> Result<IntegrationId, ApiError> {
    parse_id(text, "integration").map(IntegrationId)
}

fn action_id(text: &str) -> Result<ActionId, ApiError> {
    parse_id(text, "action").map(ActionId)
}

/// A page of integrations with their actions, archived ones included, in name order.
pub(crate) async fn list(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<Page<views::IntegrationView>>, ApiError> {
    let query = ListQuery::parse(&uri, "integrations", paging::LIST)?;
    let integrations = state.engine.integrations_redacted().await?;
    query.page_of(integrations, |record| record.integration.name.clone(), views::integration)
}

/// One integration, with its `ETag`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = state.engine.integration(integration_id(&id)?).await?;
    Ok(tagged(&headers, StatusCode::OK, record.version, views::integration(&record)))
}

/// Changes an integration's icon or archived flag (if it is still at the `If-Match` version).
pub(crate) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
    JsonBody(patch): JsonBody<IntegrationPatch>,
) -> Result<Response, ApiError> {
    let edit = IntegrationEdit { name: patch.name, image_url: patch.image_url, archived: patch.archived };
    let record = state.engine.edit_integration_if(integration_id(&id)?, &edit, expected).await?;
    Ok(tagged(&HeaderMap::new(), StatusCode::OK, record.version, views::integration(&record)))
}

/// Archives an integration (if it is still at the `If-Match` version): its history stays, its actions no longer
/// fire.
pub(crate) async fn archive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
) -> Result<Response, ApiError> {
    let edit = IntegrationEdit { archived: Some(true), ..IntegrationEdit::default() };
    let record = state.engine.edit_integration_if(integration_id(&id)?, &edit, expected).await?;
    Ok(tagged(&HeaderMap::new(), StatusCode::OK, record.version, views::integration(&record)))
}

/// Adds an action (an action definition as JSON) to an integration.
pub(crate) async fn add_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(action): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    let record = state.engine.add_action(integration_id(&id)?, &action).await?;
    Ok(tagged(&HeaderMap::new(), StatusCode::CREATED, record.integration_version, views::action(&record)))
}

/// One action, with its `ETag` (its integration's version).
pub(crate) async fn get_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let record = state.engine.action_record(action_id(&id)?).await?;
    let mut body = views::action(&record);
    if let AuthSettings::Oauth2(oauth) = &record.action.auth
        && oauth.authenticate_as == AuthenticateAs::FunctionalUser
    {
        body.oauth = Some(views::oauth_status(&state.engine.oauth_status(record.id).await?));
    }
    Ok(tagged(&headers, StatusCode::OK, record.integration_version, body))
}

/// Edits an action with a JSON merge patch (if it is still at the `If-Match` version); `[REDACTED]` secrets keep
/// their stored value.
pub(crate) async fn patch_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
    JsonBody(MergePatch(patch, _)): JsonBody<MergePatch<Action>>,
) -> Result<Response, ApiError> {
    let record = state.engine.patch_action_if(action_id(&id)?, &serde_json::Value::Object(patch), expected).await?;
    Ok(tagged(&HeaderMap::new(), StatusCode::OK, record.integration_version, views::action(&record)))
}
