//! Tasks of a runbook: list, read, set custom field values, the task actions (`start`, `finish`, `skip`, `cancel`,
//! `refire`), the actions log, and planning: tasks added, changed and removed while the runbook is in planning. A task
//! is named by its definition id.

use super::runbooks::{FieldsBody, actor, runbook_id};
use crate::AppState;
use crate::access::CurrentUser;
use crate::body::MergePatch;
use crate::body::{JsonBody, OptionalJson};
use crate::error::ApiError;
use crate::paging::{CURSOR, LIMIT, ListQuery};
use crate::preconditions::{IfMatch, tagged};
use crate::routes::{In, Param, schema};
use crate::views::{self, Page, TaskBody};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use cutover_integrations_core::EngineError;
use cutover_integrations_core::UserCommand;
use cutover_integrations_core::model::{IntegrationStatus, Task, TaskStage};
use cutover_integrations_core::runbook::FieldTarget;
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{RunbookView, TaskSnapshot};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// The body of `POST …/start`: `{force?}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "StartTask")]
pub(crate) struct StartBody {
    /// Start before the task's fixed start time (runbook admins).
    #[serde(default)]
    force: bool,
}

/// The body of `POST …/skip`: `{comment}`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SkipTask")]
pub(crate) struct SkipBody {
    /// Why it is skipped (not blank).
    #[schemars(regex(pattern = crate::body::NOT_BLANK))]
    comment: String,
}

/// The body of `POST /runbooks/{id}/tasks`: a task as in runbook definition files, whose `id` may be left out (one
/// is made from the name). The engine checks it as a definition file would be checked.
/// The handler reads it as JSON and hands it to the engine, which reads it as the model's [`Task`] does.
#[derive(Debug)]
pub(crate) struct NewTask;

impl JsonSchema for NewTask {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NewTask".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = Task::json_schema(generator);
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.retain(|name| name != "id");
        }
        schema
    }
}

/// The query parameters of `GET /runbooks/{id}/tasks`: paging and filters.
pub(crate) const LIST: &[Param] = &[
    LIMIT,
    CURSOR,
    Param {
        name: "stage",
        location: In::Query,
        required: false,
        description: "Only tasks in this stage",
        schema: schema::<TaskStage>,
    },
    Param {
        name: "integration_status",
        location: In::Query,
        required: false,
        description: "Only tasks with this integration status",
        schema: schema::<IntegrationStatus>,
    },
];

fn task_view(view: &RunbookView, task: &str) -> Result<TaskBody, ApiError> {
    let found = view
        .state
        .task(task)
        .ok_or_else(|| EngineError::NotFound { what: "task", id: format!("{}/{task}", view.id) })?;
    let index = view.state.plan().index_of(task).map_or(usize::MAX, |index| index as usize);
    let missing = view.state.missing_required_fields(task).unwrap_or_default();
    Ok(views::task(view.definition.tasks.get(index), found, missing))
}

/// A task answer with its `ETag` (its runbook's version), or 304 for a GET whose `If-None-Match` names it.
fn task_answer(request: &HeaderMap, status: StatusCode, view: &RunbookView, task: &str) -> Result<Response, ApiError> {
    Ok(tagged(request, status, view.version, task_view(view, task)?))
}

/// The answer about one task read alone (its cost does not grow with the runbook), with its `ETag`, or 304 for a GET
/// whose `If-None-Match` names it.
async fn one_task(
    state: &AppState,
    request: &HeaderMap,
    status: StatusCode,
    id: RunbookId,
    task: &str,
) -> Result<Response, ApiError> {
    let snapshot = state.engine.task(id, task).await?;
    Ok(tagged(request, status, snapshot.version, views::task_snapshot(&snapshot)))
}

/// The answer to a command about one task: the task as the engine committed it (no store round trip), with its
/// `ETag`.
async fn commanded_task(state: &AppState, id: RunbookId, task: &str) -> Result<Response, ApiError> {
    Ok(commanded_answer(&state.engine.task_as_committed(id, task).await?))
}

/// A task as a command left it, with its `ETag`.
fn commanded_answer(snapshot: &TaskSnapshot) -> Response {
    tagged(&HeaderMap::new(), StatusCode::OK, snapshot.version, views::task_snapshot(snapshot))
}

/// A page of a runbook's tasks in definition order; `?stage=` and `?integration_status=` filter them.
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<Json<Page<TaskBody>>, ApiError> {
    let query = ListQuery::parse(&uri, "tasks", LIST)?;
    let stage: Option<TaskStage> = query.status("stage", TASK_STAGES)?;
    let status: Option<IntegrationStatus> = query.status("integration_status", INTEGRATION_STATUSES)?;
    let view = state.engine.runbook(runbook_id(&id)?).await?;
    let tasks = view.state.tasks().enumerate().filter(|(_, task)| {
        stage.is_none_or(|stage| task.state.stage() == stage)
            && status.is_none_or(|status| task.state.integration_status() == status)
    });
    query.page_of(
        tasks,
        |(index, _)| *index,
        |(index, task)| {
            let missing = view.state.missing_required_fields(&task.plan.id).unwrap_or_default();
            views::task(view.definition.tasks.get(*index), *task, missing)
        },
    )
}

/// The names of the task stages, for errors.
const TASK_STAGES: &[&str] = &["not_startable", "startable", "in_progress", "complete", "skipped"];
/// The names of the integration statuses, for errors.
const INTEGRATION_STATUSES: &[&str] =
    &["none", "pending", "running", "waiting", "succeeded", "failed", "cancelled", "not_sent"];

/// One task, with its `ETag` (its runbook's version).
pub(crate) async fn get(
    State(state): State<AppState>,
    Path((id, task)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    one_task(&state, &headers, StatusCode::OK, runbook_id(&id)?, &task).await
}

/// Sets the task's custom field values (if its runbook is still at the `If-Match` version).
pub(crate) async fn set_fields(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, task)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    JsonBody(body): JsonBody<FieldsBody>,
) -> Result<Response, ApiError> {
    let id = runbook_id(&id)?;
    let target = FieldTarget::Task(task.clone());
    state.engine.set_custom_fields_if(id, target, body.custom_fields, &actor(&user), expected).await?;
    commanded_task(&state, id, &task).await
}

/// Starts a startable task (firing its action); `force` starts before a fixed start time (runbook admins).
pub(crate) async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, task)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<StartBody>,
) -> Result<Response, ApiError> {
    let command = UserCommand::StartTask { task: task.clone(), force: body.force };
    task_command(&state, &user, &id, &task, command).await
}

/// Finishes a task in progress.
pub(crate) async fn finish(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    task_command(&state, &user, &id, &task, UserCommand::FinishTask { task: task.clone() }).await
}

/// Skips a task, with a comment (runbook admins).
pub(crate) async fn skip(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, task)): Path<(String, String)>,
    JsonBody(body): JsonBody<SkipBody>,
) -> Result<Response, ApiError> {
    let command = UserCommand::SkipTask { task: task.clone(), comment: body.comment };
    task_command(&state, &user, &id, &task, command).await
}

/// Cancels the task's fire under way (cancelable actions only).
pub(crate) async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    task_command(&state, &user, &id, &task, UserCommand::CancelTask { task: task.clone() }).await
}

/// Fires the task's action again after a failed or cancelled fire.
pub(crate) async fn refire(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    task_command(&state, &user, &id, &task, UserCommand::RefireTask { task: task.clone() }).await
}

/// The task's fires with their attempts: redacted requests and responses, a `curl` line per request.
pub(crate) async fn actions_log(
    State(state): State<AppState>,
    Path((id, task)): Path<(String, String)>,
) -> Result<Json<views::ActionsLogView>, ApiError> {
    let id = runbook_id(&id)?;
    let fires = state.engine.task_actions_log(id, &task).await?;
    Ok(Json(views::actions_log(id.0, &task, &fires)))
}

async fn task_command(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    task: &str,
    command: UserCommand,
) -> Result<Response, ApiError> {
    let id = runbook_id(id)?;
    Ok(commanded_answer(&state.engine.command_answering_task(id, command, &actor(user), task).await?))
}

/// Adds a task (a task definition) to a runbook in planning: 201 with the task.
pub(crate) async fn add(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let id = runbook_id(&id)?;
    let before = state.engine.runbook(id).await?.definition.tasks.len();
    let view = state.engine.add_task(id, &body).await?;
    let task = view.definition.tasks.get(before).map(|task| task.id.clone()).unwrap_or_default();
    task_answer(&HeaderMap::new(), StatusCode::CREATED, &view, &task)
}

/// Changes a task of a runbook in planning with a JSON merge patch of its definition (if the runbook is still at
/// the `If-Match` version).
pub(crate) async fn edit(
    State(state): State<AppState>,
    Path((id, task)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
    JsonBody(MergePatch(patch, _)): JsonBody<MergePatch<Task>>,
) -> Result<Response, ApiError> {
    let view = state.engine.edit_task_if(runbook_id(&id)?, &task, &Value::Object(patch), expected).await?;
    task_answer(&HeaderMap::new(), StatusCode::OK, &view, &task)
}

/// Removes a task nobody depends on from a runbook in planning (if the runbook is still at the `If-Match`
/// version): 204.
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path((id, task)): Path<(String, String)>,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    state.engine.remove_task_if(runbook_id(&id)?, &task, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}
