//! The runbook page: heading, stage and mode, the lifecycle buttons, `Add task` (and editing and removing tasks while
//! the runbook is in planning), the task list kept current by the page's own event stream, the paged graph view, and
//! the `Task Details` panel of the task chosen. Every write is the engine operation the REST API calls, under the same
//! role rules.

use super::integrations::refused;
use super::layout::{self, Section, csrf, problems};
use super::runbooks::{mode_label, runbook_id, stage_label, stage_name};
use super::task::{self, encode};
use crate::Console;
use crate::error::ConsoleError;
use crate::forms::Form;
use crate::guard::Signed;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use cutover_integrations_core::UserCommand;
use cutover_integrations_core::access::{OAUTH, READ, RUNBOOKS, TASKS};
use cutover_integrations_core::model::{
    AppliesTo, AuthSettings, AuthenticateAs, CustomField, CustomFieldType, FieldValue, RunMode, RunbookStage, Trigger,
    Visibility,
};
use cutover_integrations_core::runbook::{Actor, FieldTarget};
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{EngineError, OAuthTarget, RunbookView};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::convert::Infallible;
use tokio::sync::broadcast::error::RecvError;

/// Nodes per page of the graph view.
const GRAPH_PAGE: usize = 120;

/// `?task=ID&edit=1&graph=PAGE`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    #[serde(default)]
    task: Option<String>,
    #[serde(default)]
    edit: Option<String>,
    #[serde(default)]
    graph: Option<usize>,
}

/// `?digest=…`: the digest of the rows the page shows.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventsQuery {
    #[serde(default)]
    digest: Option<String>,
}

/// A task type offered by `Add task`: `Manual`, or a task-level action with its integration's image.
struct TaskType {
    reference: String,
    action: String,
    image: String,
    visibility: Visibility,
}

/// What the task dialog needs besides the runbook.
pub(crate) struct Catalog {
    types: Vec<TaskType>,
    /// `INTEGRATION/ACTION` of the actions whose OAuth token each task's user authorizes.
    pub(crate) task_user_oauth: Vec<String>,
    fields: Vec<CustomField>,
    images: Vec<(String, String)>,
}

async fn catalog(console: &Console) -> Result<Catalog, ConsoleError> {
    let mut types = Vec::new();
    let mut images = Vec::new();
    let mut task_user_oauth = Vec::new();
    for record in console.engine.integrations_redacted().await? {
        let integration = record.integration;
        let image = integration.image_url.clone().unwrap_or_else(|| crate::assets::url("integration", "svg"));
        images.push((integration.name.clone(), image.clone()));
        if integration.archived {
            continue;
        }
        for action in &integration.actions {
            if matches!(&action.auth, AuthSettings::Oauth2(oauth) if oauth.authenticate_as == AuthenticateAs::TaskUser)
            {
                task_user_oauth.push(format!("{}/{}", integration.name, action.name));
            }
            // A draft is no task type yet: the engine refuses tasks that name it.
            if action.trigger == Trigger::TaskStart && !action.is_draft() {
                types.push(TaskType {
                    reference: format!("{}/{}", integration.name, action.name),
                    action: action.name.clone(),
                    image: action.image_url.clone().unwrap_or_else(|| image.clone()),
                    visibility: action.visibility.clone(),
                });
            }
        }
    }
    let fields =
        console.engine.custom_fields().await?.into_iter().filter(|f| f.applies_to == AppliesTo::Task).collect();
    Ok(Catalog { types, task_user_oauth, fields, images })
}

fn actor(signed: &Signed) -> Actor {
    Actor::with_roles(signed.0.user.roles.iter().copied())
}

/// The task dialog (`Add task`, or `Edit task` for `editing`), rendered open when `open`.
fn task_dialog(
    signed: &Signed,
    view: &RunbookView,
    catalog: &Catalog,
    editing: Option<&str>,
    open: bool,
    failed: &[String],
) -> Markup {
    let defined = editing.and_then(|id| view.definition.tasks.iter().find(|task| task.id == id));
    let dialog_id = if editing.is_some() { "edit-task" } else { "add-task" };
    let title = if editing.is_some() { "Edit task" } else { "Add task" };
    let action = match editing {
        Some(id) => format!("/runbooks/{}/tasks/{}/edit", view.id, encode(id)),
        None => format!("/runbooks/{}/tasks", view.id),
    };
    let chosen = defined.and_then(|task| task.action.as_ref().map(ToString::to_string)).unwrap_or_default();
    // Only what the runbook's workspace may use is offered; the engine refuses the rest.
    let workspace = view.definition.workspace.as_deref();
    let value_of = |name: &str| -> Vec<String> {
        match defined.and_then(|task| task.custom_fields.get(name)) {
            Some(FieldValue::Text(text)) => vec![text.clone()],
            Some(FieldValue::List(items)) => items.clone(),
            None => Vec::new(),
        }
    };
    html! {
        dialog id=(dialog_id) aria-labelledby=(format!("{dialog_id}-title")) data-modal open[open] data-close-href=[open.then(|| format!("/runbooks/{}", view.id))] {
            form method="post" action=(action) class="task-form" {
                (csrf(signed))
                h2 id=(format!("{dialog_id}-title")) { (title) }
                (problems(failed))
                label for=(format!("{dialog_id}-name")) { "Name" }
                input id=(format!("{dialog_id}-name")) name="name" required maxlength="500" value=[defined.map(|task| task.name.as_str())];
                label for=(format!("{dialog_id}-description")) { "Description" }
                textarea id=(format!("{dialog_id}-description")) name="description" rows="2" { (defined.and_then(|task| task.description.as_deref()).unwrap_or("")) }
                fieldset class="task-types" {
                    legend { "Task Type" }
                    label for=(format!("{dialog_id}-type-search")) { "Search task types" }
                    input id=(format!("{dialog_id}-type-search")) type="search" data-filter-list=(format!("{dialog_id}-type-options")) autocomplete="off";
                    ul id=(format!("{dialog_id}-type-options")) class="type-options" {
                        li data-filter-text="manual" {
                            label { input type="radio" name="action" value="" checked[chosen.is_empty()]; span class="type-manual" { "M" } " Manual" }
                        }
                        @for task_type in catalog.types.iter().filter(|t| t.visibility.serves(workspace)) {
                            li data-filter-text=(task_type.reference.to_lowercase()) {
                                label {
                                    input type="radio" name="action" value=(task_type.reference) checked[chosen == task_type.reference];
                                    img src=(task_type.image) alt="" width="20" height="20";
                                    " " (task_type.reference)
                                }
                            }
                        }
                    }
                }
                label for=(format!("{dialog_id}-predecessors")) { "Predecessors" }
                select id=(format!("{dialog_id}-predecessors")) name="predecessors" multiple size=(view.definition.tasks.len().clamp(2, 6)) {
                    @for other in view.definition.tasks.iter().filter(|other| Some(other.id.as_str()) != editing) {
                        option value=(other.id) selected[defined.is_some_and(|task| task.predecessors.contains(&other.id))] { (other.name) " (" (other.id) ")" }
                    }
                }
                label class="check" { input type="checkbox" name="auto_start" checked[defined.is_some_and(|task| task.auto_start)]; " Auto start" }
                label for=(format!("{dialog_id}-fixed-start")) { "Fixed start" }
                input id=(format!("{dialog_id}-fixed-start")) name="fixed_start" type="datetime-local" step="1" aria-describedby=(format!("{dialog_id}-fixed-start-hint"))
                    value=[defined.and_then(|task| task.fixed_start.as_deref()).map(|at| at.trim_end_matches('Z').to_owned())];
                p id=(format!("{dialog_id}-fixed-start-hint")) class="hint" { "UTC; not with Auto start." }
                @for (index, field) in catalog.fields.iter().enumerate().filter(|(_, f)| f.visibility.serves(workspace)) {
                    @let shown = shown_for(field, catalog);
                    @let field_id = format!("{dialog_id}-field-{index}");
                    @let values = value_of(&field.name);
                    div class="custom-field" data-shown-when=[shown.as_ref().map(|actions| format!("action={actions}"))] hidden[shown.is_some()] {
                        @match field.field_type {
                            CustomFieldType::Checkboxes => {
                                fieldset {
                                    legend class=[field.required.then_some("required")] { (field.name) }
                                    @for option in &field.options {
                                        label class="check" { input type="checkbox" name=(format!("cf:{}", field.name)) value=(option) checked[values.contains(option)]; " " (option) }
                                    }
                                }
                            }
                            CustomFieldType::Select | CustomFieldType::Radio => {
                                label for=(field_id) class=[field.required.then_some("required")] { (field.name) }
                                select id=(field_id) name=(format!("cf:{}", field.name)) required[field.required] {
                                    option value="" { "—" }
                                    @for option in &field.options { option value=(option) selected[values.contains(option)] { (option) } }
                                }
                            }
                            CustomFieldType::Textarea => {
                                label for=(field_id) class=[field.required.then_some("required")] { (field.name) }
                                textarea id=(field_id) name=(format!("cf:{}", field.name)) rows="3" required[field.required] { (values.join("\n")) }
                            }
                            CustomFieldType::Date => {
                                label for=(field_id) class=[field.required.then_some("required")] { (field.name) }
                                input id=(field_id) type="date" name=(format!("cf:{}", field.name)) required[field.required] value=[values.first()];
                            }
                            CustomFieldType::Text | CustomFieldType::User => {
                                label for=(field_id) class=[field.required.then_some("required")] { (field.name) }
                                input id=(field_id) name=(format!("cf:{}", field.name)) required[field.required] value=[values.first()];
                            }
                        }
                    }
                }
                div class="buttons" {
                    button type="button" data-dialog-close { "Cancel" }
                    button type="submit" class="primary" { @if editing.is_some() { "Save" } @else { "Add" } }
                }
            }
        }
    }
}

/// The task types (`INTEGRATION/ACTION|…`) whose tasks show a restricted field; `None` for a field every task type
/// shows. A field restricted to actions none of which is offered shows for none (`action=` never matches a reference).
fn shown_for(field: &CustomField, catalog: &Catalog) -> Option<String> {
    if field.restrict_to.is_empty() {
        return None;
    }
    let references: Vec<&str> = catalog
        .types
        .iter()
        .filter(|task_type| field.restrict_to.contains(&task_type.action))
        .map(|task_type| task_type.reference.as_str())
        .collect();
    Some(if references.is_empty() { "\u{0}".to_owned() } else { references.join("|") })
}

/// The task definition a submitted task form describes.
fn task_from_form(form: &Form, catalog: &Catalog, editing: bool) -> Value {
    let mut task = Map::new();
    task.insert("name".into(), Value::from(form.text("name")));
    let description = form.text("description");
    task.insert("description".into(), if description.is_empty() { Value::Null } else { Value::from(description) });
    let action = form.text("action");
    task.insert("action".into(), if action.is_empty() { Value::Null } else { Value::from(action) });
    task.insert("predecessors".into(), Value::from(form.all("predecessors")));
    task.insert("auto_start".into(), Value::from(form.checked("auto_start")));
    let fixed = form.text("fixed_start");
    let fixed = match fixed.len() {
        0 => Value::Null,
        16 => Value::from(format!("{fixed}:00Z")),
        _ => Value::from(format!("{fixed}Z")),
    };
    task.insert("fixed_start".into(), fixed);
    let mut fields = Map::new();
    for field in &catalog.fields {
        let key = format!("cf:{}", field.name);
        let values: Vec<String> =
            form.all(&key).into_iter().map(|value| value.trim().to_owned()).filter(|value| !value.is_empty()).collect();
        if values.is_empty() {
            continue;
        }
        let value = if field.field_type.is_multi() { Value::from(values) } else { Value::from(values[0].clone()) };
        fields.insert(field.name.clone(), value);
    }
    task.insert("custom_fields".into(), Value::Object(fields));
    if !editing {
        // A new task: members left empty are simply absent.
        task.retain(|_, value| !value.is_null());
    }
    Value::Object(task)
}

/// The stages a control applies in, as its `data-stages` attribute lists them.
fn stage_names(stages: &[RunbookStage]) -> String {
    stages.iter().map(|stage| stage_name(*stage)).collect::<Vec<_>>().join(" ")
}

/// The page, with the panel of `query.task` and a dialog open if asked.
async fn render(
    console: &Console,
    signed: &Signed,
    id: RunbookId,
    query: &PageQuery,
    dialog: Option<(Option<&str>, &[String])>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let view = console.engine.runbook(id).await?;
    let catalog = catalog(console).await?;
    let planning = view.state.stage() == RunbookStage::Planning;
    let may_runbooks = signed.may(RUNBOOKS);
    let stage = view.state.stage();
    let chosen = query.task.as_deref().and_then(|task| view.state.task(task));
    let fires = match &chosen {
        Some(task) if task.plan.action.is_some() => console.engine.task_actions_log(id, &task.plan.id).await?,
        _ => Vec::new(),
    };
    // Each lifecycle button says in which runbook stages it applies: the page's script shows and hides them as the
    // stage changes while the page is open (a run started, paused or ended elsewhere).
    let lifecycle = |action: &str, label: &str, stages: &[RunbookStage]| {
        html! {
            form method="post" action=(format!("/runbooks/{id}/{action}")) data-stages=(stage_names(stages)) hidden[!stages.contains(&stage)] {
                (csrf(signed))
                button type="submit" class=[(action == "start-live").then_some("primary")] { (label) }
            }
        }
    };
    let editing = query.edit.is_some().then_some(query.task.as_deref()).flatten();
    let total = view.state.tasks().len();
    let content = html! {
        div class="runbook" data-runbook=(id) data-digest=(task::digest(&view)) {
            div class="heading" {
                h1 { (view.definition.name) }
                div class="buttons" {
                    @if may_runbooks {
                        // A runbook never goes back to planning: its buttons are there only while it plans.
                        @if planning {
                            button type="button" data-dialog-open="add-task" data-stages=(stage_names(&[RunbookStage::Planning])) { "Add task" }
                            (lifecycle("start-rehearsal", "Start rehearsal", &[RunbookStage::Planning]))
                            (lifecycle("start-live", "Start live", &[RunbookStage::Planning]))
                        }
                        (lifecycle("pause", "Pause", &[RunbookStage::Active]))
                        (lifecycle("resume", "Resume", &[RunbookStage::Paused]))
                        (lifecycle("cancel", "Cancel runbook", &[RunbookStage::Active, RunbookStage::Paused]))
                    }
                }
            }
            p class="runbook-meta" {
                "Stage: " span data-runbook-stage=(stage_name(stage)) class=(format!("stage stage-{}", stage_name(stage))) { (stage_label(stage)) }
                " · Mode: " span { (mode_label(&view)) }
                " · " span data-runbook-done { (view.state.done_count()) } " of " (total) " tasks done"
                " · " span data-live-state aria-live="polite" { "" }
            }
            @if let Some((editing, failed)) = dialog.filter(|_| may_runbooks) {
                (task_dialog(signed, &view, &catalog, editing, true, failed))
            } @else if may_runbooks && planning {
                @if let Some(editing) = editing { (task_dialog(signed, &view, &catalog, Some(editing), true, &[])) }
            }
            @if may_runbooks && planning && dialog.is_none_or(|(editing, _)| editing.is_some()) {
                (task_dialog(signed, &view, &catalog, None, false, &[]))
            }
            div class="runbook-body" {
                section class="task-list" aria-labelledby="tasks-title" {
                    div role="tablist" aria-label="Views" {
                        button type="button" role="tab" id="view-list-tab" aria-controls="view-list" aria-selected=(if query.graph.is_none() { "true" } else { "false" }) tabindex=(if query.graph.is_none() { "0" } else { "-1" }) { "List" }
                        button type="button" role="tab" id="view-graph-tab" aria-controls="view-graph" aria-selected=(if query.graph.is_some() { "true" } else { "false" }) tabindex=(if query.graph.is_some() { "0" } else { "-1" }) { "Graph" }
                    }
                    div role="tabpanel" id="view-list" aria-labelledby="view-list-tab" hidden[query.graph.is_some()] {
                        h2 id="tasks-title" class="visually-hidden" { "Tasks" }
                        @if total == 0 { p class="empty" { "No tasks yet." @if planning && may_runbooks { " Add one with " strong { "Add task" } "." } } }
                        @else {
                            table class="tasks" {
                                thead {
                                    tr {
                                        th scope="col" { "ID" } th scope="col" { "Name" } th scope="col" { "Type" }
                                        th scope="col" { "Stage" } th scope="col" { "Integration" } th scope="col" { "Assignee" }
                                        th scope="col" { "Start (UTC)" } th scope="col" { "End (UTC)" } th scope="col" { "Duration" }
                                    }
                                }
                                tbody {
                                    @for task in view.state.tasks() {
                                        (task::row(&view, &task, &catalog.images, query.task.as_deref() == Some(task.plan.id.as_str())))
                                    }
                                }
                            }
                        }
                    }
                    div role="tabpanel" id="view-graph" aria-labelledby="view-graph-tab" hidden[query.graph.is_none()] {
                        (super::graph::graph(&view, query.graph.unwrap_or(1), GRAPH_PAGE))
                    }
                }
                @if let Some(task) = &chosen {
                    (task::panel(signed, &view, task, &fires, &catalog))
                }
            }
            link rel="stylesheet" href=(crate::assets::url("runbook", "css"));
            script type="module" src=(crate::assets::url("runbook", "js")) {}
        }
    };
    Ok(layout::respond(status, layout::page(&view.definition.name, Some(signed), Section::Runbooks, content)))
}

/// `GET /runbooks/{id}`.
pub(crate) async fn page(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading runbooks")?;
    render(&console, &signed, runbook_id(&id)?, &query, None, StatusCode::OK).await
}

/// `GET /runbooks/{id}/tasks/{task}/panel`: the `Task Details` panel alone, for the page to swap in when the task
/// changes.
pub(crate) async fn panel(
    State(console): State<Console>,
    signed: Signed,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading runbooks")?;
    let id = runbook_id(&id)?;
    let view = console.engine.runbook(id).await?;
    let chosen =
        view.state.task(&task).ok_or_else(|| ConsoleError::NotFound(format!("task `{task}` does not exist")))?;
    let fires =
        if chosen.plan.action.is_some() { console.engine.task_actions_log(id, &task).await? } else { Vec::new() };
    let catalog = catalog(&console).await?;
    Ok(Html(task::panel(&signed, &view, &chosen, &fires, &catalog).into_string()).into_response())
}

/// `GET /runbooks/{id}/tasks/{task}/authenticate`: the OAuth authorization of a task-user action, for this task's
/// assignee (the engine refuses anyone else but an admin).
pub(crate) async fn authenticate(
    State(console): State<Console>,
    signed: Signed,
    Path((id, task)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    signed.require(OAUTH, "authorizing a task's action")?;
    let id = runbook_id(&id)?;
    let view = console.engine.runbook(id).await?;
    let reference = view
        .state
        .task(&task)
        .and_then(|task| task.plan.action.as_ref().map(|action| action.reference.clone()))
        .ok_or_else(|| ConsoleError::NotFound(format!("task `{task}` has no action")))?;
    let action = console
        .engine
        .store()
        .find_action(&reference)
        .await
        .map_err(EngineError::from)?
        .ok_or_else(|| ConsoleError::NotFound(format!("action `{reference}` does not exist")))?;
    let target = OAuthTarget { action: action.id, task: Some((id, task)) };
    let credential = console.engine.oauth_credential(&target, &signed.0.user).await?;
    let redirect = console.engine.begin_oauth(credential, &signed.0.user).await?;
    Ok(Redirect::to(redirect.url.as_str()).into_response())
}

/// `POST /runbooks/{id}/{start-rehearsal|start-live|pause|resume|cancel}`.
pub(crate) async fn lifecycle(
    State(console): State<Console>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    signed.require(RUNBOOKS, "running a runbook")?;
    let id = runbook_id(&id)?;
    let command = match action.as_str() {
        "start-rehearsal" => UserCommand::StartRunbook { mode: RunMode::Rehearsal },
        "start-live" => UserCommand::StartRunbook { mode: RunMode::Live },
        "pause" => UserCommand::PauseRunbook,
        "resume" => UserCommand::ResumeRunbook,
        "cancel" => UserCommand::CancelRunbook,
        _ => return Err(ConsoleError::NotFound(format!("no runbook action `{action}`"))),
    };
    console.engine.command(id, command, &actor(&signed)).await?;
    Ok(Redirect::to(&format!("/runbooks/{id}")).into_response())
}

/// `POST /runbooks/{id}/tasks`: `Add task`.
pub(crate) async fn add_task(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, ConsoleError> {
    signed.require(RUNBOOKS, "adding a task")?;
    let id = runbook_id(&id)?;
    let catalog = catalog(&console).await?;
    let task = task_from_form(&form, &catalog, false);
    let mut lines = Vec::new();
    match console.engine.add_task(id, &task).await {
        Ok(_) => return Ok(Redirect::to(&format!("/runbooks/{id}")).into_response()),
        Err(error) => refused(error, &mut lines)?,
    }
    render(&console, &signed, id, &PageQuery::default(), Some((None, &lines)), StatusCode::UNPROCESSABLE_ENTITY).await
}

/// `POST /runbooks/{id}/tasks/{task}/{edit|remove|start|finish|skip|cancel|refire|fields}`.
pub(crate) async fn task_action(
    State(console): State<Console>,
    signed: Signed,
    Path((id, task, action)): Path<(String, String, String)>,
    form: Form,
) -> Result<Response, ConsoleError> {
    let id = runbook_id(&id)?;
    let back = format!("/runbooks/{id}?task={}", encode(&task));
    let outcome: Result<(), EngineError> = match action.as_str() {
        "edit" => {
            signed.require(RUNBOOKS, "editing a task")?;
            let catalog = catalog(&console).await?;
            let patch = task_from_form(&form, &catalog, true);
            match console.engine.edit_task(id, &task, &patch).await {
                Ok(_) => Ok(()),
                Err(error) => {
                    let mut lines = Vec::new();
                    refused(error, &mut lines)?;
                    let query = PageQuery { task: Some(task.clone()), edit: None, graph: None };
                    let status = StatusCode::UNPROCESSABLE_ENTITY;
                    return render(&console, &signed, id, &query, Some((Some(&task), &lines)), status).await;
                }
            }
        }
        "remove" => {
            signed.require(RUNBOOKS, "removing a task")?;
            console.engine.remove_task(id, &task).await.map(|_| ())
        }
        "skip" => {
            signed.require(RUNBOOKS, "skipping a task")?;
            let command = UserCommand::SkipTask { task: task.clone(), comment: form.text("comment") };
            console.engine.command(id, command, &actor(&signed)).await.map(|_| ())
        }
        "fields" => {
            signed.require(TASKS, "setting custom field values")?;
            let values: BTreeMap<String, FieldValue> = form
                .pairs()
                .filter_map(|(key, value)| {
                    key.strip_prefix("cf:").map(|name| (name.to_owned(), FieldValue::Text(value.trim().to_owned())))
                })
                .collect();
            console
                .engine
                .set_custom_fields(id, FieldTarget::Task(task.clone()), values, &actor(&signed))
                .await
                .map(|_| ())
        }
        "start" | "finish" | "cancel" | "refire" => {
            signed.require(TASKS, "operating a task")?;
            let command = match action.as_str() {
                "start" => UserCommand::StartTask { task: task.clone(), force: false },
                "finish" => UserCommand::FinishTask { task: task.clone() },
                "cancel" => UserCommand::CancelTask { task: task.clone() },
                _ => UserCommand::RefireTask { task: task.clone() },
            };
            console.engine.command(id, command, &actor(&signed)).await.map(|_| ())
        }
        _ => return Err(ConsoleError::NotFound(format!("no task action `{action}`"))),
    };
    match outcome {
        Ok(()) if action == "remove" => Ok(Redirect::to(&format!("/runbooks/{id}")).into_response()),
        Ok(()) => Ok(Redirect::to(&back).into_response()),
        Err(error) => Err(ConsoleError::Engine(error)),
    }
}

/// `GET /runbooks/{id}/events`: the page's live updates, as server-sent events: `task` with a row's new content
/// whenever the engine reports a change of that task, `runbook` with the stage when the runbook's changes. The
/// session's user reads them, as the page.
pub(crate) async fn events(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading runbooks")?;
    let id = runbook_id(&id)?;
    // Subscribed before reading, so that no change falls between the read and the stream.
    let receiver = console.engine.subscribe();
    let view = console.engine.runbook(id).await?;
    // The page is behind when a change came between its rendering and now: it gets every row first.
    let snapshot = (query.digest.as_deref() != Some(task::digest(&view).as_str())).then(|| {
        let rows: Vec<Value> = view.state.tasks().map(|task| task::row_data(&view, &task)).collect();
        SseEvent::default().event("rows").data(Value::Array(rows).to_string())
    });
    let snapshot = futures::stream::iter(snapshot.map(Ok::<_, Infallible>));
    let shutdown = console.shutdown.clone();
    let engine = console.engine.clone();
    let stream =
        futures::stream::unfold((receiver, shutdown, engine), move |(mut receiver, mut shutdown, engine)| async move {
            loop {
                if shutdown.as_ref().is_some_and(|shutdown| *shutdown.borrow()) {
                    return None;
                }
                let stopping = async {
                    match shutdown.as_mut() {
                        Some(shutdown) => shutdown.changed().await.is_err(),
                        None => std::future::pending().await,
                    }
                };
                let received = tokio::select! {
                    closed = stopping => if closed { return None } else { continue },
                    received = receiver.recv() => received,
                };
                let event = match received {
                    Ok(event) if event.runbook == id => event,
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => {
                        // Changes were missed: the page reads everything again.
                        let event = SseEvent::default().event("lagged").data("{}");
                        return Some((Ok::<_, Infallible>(event), (receiver, shutdown, engine)));
                    }
                    Err(RecvError::Closed) => return None,
                };
                let described = serde_json::to_value(&event.event).unwrap_or_default();
                let Ok(view) = engine.runbook(id).await else { continue };
                let sse = match described.get("task").and_then(Value::as_str).and_then(|task| view.state.task(task)) {
                    Some(task) => SseEvent::default().event("task").data(task::row_data(&view, &task).to_string()),
                    None => SseEvent::default().event("runbook").data(
                        json!({
                            "stage": stage_label(view.state.stage()),
                            "stage_name": stage_name(view.state.stage()),
                            "done": view.state.done_count(),
                        })
                        .to_string(),
                    ),
                };
                return Some((Ok(sse), (receiver, shutdown, engine)));
            }
        });
    Ok(Sse::new(futures::StreamExt::chain(snapshot, stream)).keep_alive(KeepAlive::default()).into_response())
}
