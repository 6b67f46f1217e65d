//! Runbooks: create from a definition, list, read, set runbook-level custom field values, and the lifecycle
//! (`start`, `pause`, `resume`, `cancel`, `duplicate`).

use super::{parse_id, query_params};
use crate::AppState;
use crate::access::CurrentUser;
use crate::body::{DefinitionBody, JsonBody};
use crate::error::ApiError;
use crate::paging::{CURSOR, LIMIT, ListQuery};
use crate::preconditions::{IfMatch, tagged};
use crate::routes::{In, Param, schema};
use crate::views::{self, Page, RunbookSummary};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use cutover_integrations_core::UserCommand;
use cutover_integrations_core::model::{FieldValue, RunMode, RunbookStage};
use cutover_integrations_core::runbook::{Actor, FieldTarget};
use cutover_integrations_core::store::{RunbookId, RunbookQuery};
use cutover_integrations_core::{ExistingRunbook, RunbookView};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The body of `POST /runbooks/{id}/start`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "StartRunbook")]
pub(crate) struct StartBody {
    /// `rehearsal` or `live`.
    mode: RunMode,
}

/// The body of the `PATCH` routes that set custom field values.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "CustomFieldValues")]
pub(crate) struct FieldsBody {
    /// Values by custom field name: a string, or a list of strings for multi-select types.
    pub(crate) custom_fields: BTreeMap<String, FieldValue>,
}

/// `?existing=` of `POST /runbooks`.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Existing {
    /// Always create a runbook (the default).
    New,
    /// Answer the runbook of the same name and workspace when its definition is the same (409 when it differs).
    Reuse,
}

/// The query parameters of `GET /runbooks`: paging and filters.
pub(crate) const LIST: &[Param] = &[
    LIMIT,
    CURSOR,
    Param {
        name: "stage",
        location: In::Query,
        required: false,
        description: "Only runbooks in this stage",
        schema: schema::<RunbookStage>,
    },
    Param {
        name: "mode",
        location: In::Query,
        required: false,
        description: "Only runbooks running in this mode",
        schema: schema::<RunMode>,
    },
    Param {
        name: "workspace",
        location: In::Query,
        required: false,
        description: "Only runbooks of this workspace (exact)",
        schema: schema::<String>,
    },
    Param {
        name: "name",
        location: In::Query,
        required: false,
        description: "Only runbooks whose name contains this, ignoring ASCII case",
        schema: schema::<String>,
    },
];

pub(crate) fn runbook_id(text: &str) -> Result<RunbookId, ApiError> {
    parse_id(text, "runbook").map(RunbookId)
}

pub(crate) fn actor(user: &CurrentUser) -> Actor {
    Actor::with_roles(user.0.roles.iter().copied())
}

/// Creates a runbook from a runbook definition (YAML or JSON body), in planning: 201. With `?existing=reuse`, the
/// runbook of the same name and workspace is answered instead with 200 when its definition is the same, and 409
/// `runbook_exists` when it differs; `?existing=new` (the default) always creates one.
pub(crate) async fn create(
    State(state): State<AppState>,
    uri: Uri,
    body: DefinitionBody,
) -> Result<Response, ApiError> {
    let existing = match query_params(&uri).get("existing") {
        None => Existing::New,
        Some(text) => serde_json::from_value(Value::String(text.clone()))
            .map_err(|_| ApiError::invalid("existing", format!("`{text}` is not `new` or `reuse`")))?,
    };
    let existing = match existing {
        Existing::New => ExistingRunbook::CreateAnother,
        Existing::Reuse => ExistingRunbook::Reuse,
    };
    let applied = state.engine.apply_runbook_file(&body.name, &body.text, existing).await?;
    let view = state.engine.runbook(applied.id).await?;
    let status = if applied.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(answer(status, &view))
}

/// The names of the runbook stages, for errors.
const STAGES: &[&str] = &["planning", "active", "paused", "cancelled", "complete"];
/// The names of the run modes, for errors.
const MODES: &[&str] = &["rehearsal", "live"];

/// A page of runbooks with their stage and mode, in id order; `?stage=`, `?mode=`, `?workspace=` (exact) and
/// `?name=` (contained, ignoring ASCII case) filter them.
pub(crate) async fn list(State(state): State<AppState>, uri: Uri) -> Result<Json<Page<RunbookSummary>>, ApiError> {
    let query = ListQuery::parse(&uri, "runbooks", LIST)?;
    let store_query = RunbookQuery {
        after: query.after::<i64>()?.map(RunbookId),
        limit: query.limit,
        stage: query.status("stage", STAGES)?,
        mode: query.status("mode", MODES)?,
        workspace: query.text("workspace"),
        name_contains: query.text("name"),
    };
    let page = state.engine.runbook_page(&store_query).await?;
    let items = page.runbooks.iter().map(views::runbook_listing).collect();
    Ok(query.answer(items, page.runbooks.last().map(|runbook| runbook.id.0.to_string()), page.more))
}

/// A runbook answer with its `ETag`.
fn answer(status: StatusCode, view: &RunbookView) -> Response {
    tagged(&HeaderMap::new(), status, view.version, views::runbook(view))
}

/// One runbook with its tasks, with its `ETag`.
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = state.engine.runbook(runbook_id(&id)?).await?;
    Ok(tagged(&headers, StatusCode::OK, view.version, views::runbook(&view)))
}

/// Sets runbook-level custom field values (if the runbook is still at the `If-Match` version).
pub(crate) async fn set_fields(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
    JsonBody(body): JsonBody<FieldsBody>,
) -> Result<Response, ApiError> {
    let id = runbook_id(&id)?;
    state.engine.set_custom_fields_if(id, FieldTarget::Runbook, body.custom_fields, &actor(&user), expected).await?;
    Ok(answer(StatusCode::OK, &state.engine.runbook(id).await?))
}

/// Starts a run in `rehearsal` or `live` mode.
pub(crate) async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StartBody>,
) -> Result<Response, ApiError> {
    lifecycle(&state, &user, &id, UserCommand::StartRunbook { mode: body.mode }).await
}

/// Pauses an active run.
pub(crate) async fn pause(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    lifecycle(&state, &user, &id, UserCommand::PauseRunbook).await
}

/// Resumes a paused run.
pub(crate) async fn resume(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    lifecycle(&state, &user, &id, UserCommand::ResumeRunbook).await
}

/// Cancels a runbook and every fire under way.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    lifecycle(&state, &user, &id, UserCommand::CancelRunbook).await
}

/// Copies a runbook into a new one in planning (transient custom field values are not copied).
pub(crate) async fn duplicate(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let copy = state.engine.duplicate_runbook(runbook_id(&id)?).await?;
    Ok(answer(StatusCode::CREATED, &state.engine.runbook(copy).await?))
}

async fn lifecycle(state: &AppState, user: &CurrentUser, id: &str, command: UserCommand) -> Result<Response, ApiError> {
    let id = runbook_id(id)?;
    state.engine.command(id, command, &actor(user)).await?;
    Ok(answer(StatusCode::OK, &state.engine.runbook(id).await?))
}
