//! A task as the runbook page shows it: its row in the task list (also sent over the live event stream), the `Task
//! Details` panel with its buttons and `More actions` menu, and the `Actions` section with a `Debug` dialog per attempt
//! (`Request` and `Response` tabs, `Copy as curl`). Everything shown of a request or response comes from the engine's
//! actions log, where secrets were redacted before they were stored.

use super::layout::csrf;
use super::runbooks::time_label;
use crate::guard::Signed;
use cutover_integrations_core::access::{OAUTH, RUNBOOKS, TASKS};
use cutover_integrations_core::http::{AttemptRecord, HeaderRecord, LogEntry};
use cutover_integrations_core::model::{IntegrationStatus, RunbookStage, TaskStage};
use cutover_integrations_core::runbook::TaskView;
use cutover_integrations_core::{FireLogView, FireOutcome, RunbookView};
use maud::{Markup, html};
use serde_json::{Value, json};

/// A task stage for people.
pub(crate) fn stage_label(stage: TaskStage) -> &'static str {
    match stage {
        TaskStage::NotStartable => "Not startable",
        TaskStage::Startable => "Startable",
        TaskStage::InProgress => "In progress",
        TaskStage::Complete => "Complete",
        TaskStage::Skipped => "Skipped",
    }
}

/// A task stage's class name.
pub(crate) fn stage_class(stage: TaskStage) -> &'static str {
    match stage {
        TaskStage::NotStartable => "not-startable",
        TaskStage::Startable => "startable",
        TaskStage::InProgress => "in-progress",
        TaskStage::Complete => "complete",
        TaskStage::Skipped => "skipped",
    }
}

/// The integration status in words (`Succeeded`, `Connection failed: …`, `Not sent (rehearsal)`) and its colour
/// class; empty for a task without an action.
pub(crate) fn status_words(task: &TaskView<'_>) -> (String, &'static str) {
    let state = task.state;
    match state.integration_status() {
        IntegrationStatus::None if task.plan.action.is_none() => (String::new(), "status-none"),
        IntegrationStatus::None => ("Not fired".to_owned(), "status-none"),
        IntegrationStatus::Pending => ("Pending".to_owned(), "status-busy"),
        IntegrationStatus::Running => ("Running".to_owned(), "status-busy"),
        IntegrationStatus::Waiting => {
            let reason = state.waiting().map(|reason| format!(": {reason}")).unwrap_or_default();
            (format!("Waiting{reason}"), "status-busy")
        }
        IntegrationStatus::Succeeded => ("Succeeded".to_owned(), "status-ok"),
        IntegrationStatus::Failed => {
            (state.failure().map_or_else(|| "Failed".to_owned(), ToString::to_string), "status-bad")
        }
        IntegrationStatus::Cancelled => ("Cancelled".to_owned(), "status-bad"),
        IntegrationStatus::NotSent => ("Not sent (rehearsal)".to_owned(), "status-muted"),
    }
}

/// A time of day in a row, `23:05:09` (UTC); the panel and the list of runbooks give the date too.
fn clock_label(at: Option<jiff::Timestamp>) -> String {
    at.map(|at| at.strftime("%H:%M:%S").to_string()).unwrap_or_default()
}

/// `1h 02m 03s`, `2m 05s`, `4s`.
fn duration_label(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// What a row shows, as JSON for the live update.
pub(crate) fn row_data(view: &RunbookView, task: &TaskView<'_>) -> Value {
    let (status, status_class) = status_words(task);
    let state = task.state;
    let duration = match (state.started_at(), state.ended_at()) {
        (Some(start), Some(end)) => duration_label((end - start).get_seconds()),
        _ => String::new(),
    };
    json!({
        "runbook": view.id,
        "id": task.plan.id,
        "stage": stage_label(state.stage()),
        "stage_class": stage_class(state.stage()),
        "status": status,
        "status_class": status_class,
        "started": clock_label(state.started_at()),
        "ended": clock_label(state.ended_at()),
        "duration": duration,
        "done": view.state.done_count(),
        "runbook_stage": super::runbooks::stage_label(view.state.stage()),
        "runbook_stage_name": super::runbooks::stage_name(view.state.stage()),
    })
}

/// A digest of every row's content, so that the page's event stream can tell whether the page is behind (a change
/// between the page's rendering and the stream's start).
pub(crate) fn digest(view: &RunbookView) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for task in view.state.tasks() {
        row_data(view, &task).to_string().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// The image of a task's action (the integration's image or ours), or none for a manual task.
pub(crate) fn type_image(images: &[(String, String)], task: &TaskView<'_>) -> Markup {
    match &task.plan.action {
        Some(action) => {
            let src = images
                .iter()
                .find(|(integration, _)| *integration == action.reference.integration)
                .map(|(_, url)| url.clone())
                .unwrap_or_else(|| crate::assets::url("integration", "svg"));
            html! { img class="type-image" src=(src) alt=(action.reference.to_string()) title=(action.reference.to_string()) width="20" height="20"; }
        }
        None => html! { span class="type-manual" { "Manual" } },
    }
}

/// One row of the task list.
pub(crate) fn row(view: &RunbookView, task: &TaskView<'_>, images: &[(String, String)], selected: bool) -> Markup {
    let data = row_data(view, task);
    let text = |key: &str| data[key].as_str().unwrap_or_default().to_owned();
    let defined = view.definition.tasks.iter().find(|defined| defined.id == task.plan.id);
    html! {
        tr data-task=(task.plan.id) aria-selected=[selected.then_some("true")] {
            td class="task-id" { (task.plan.id) }
            td { a href=(format!("/runbooks/{}?task={}", view.id, encode(&task.plan.id))) data-open-task=(task.plan.id) { (task.plan.name) } }
            td { (type_image(images, task)) }
            td { span data-cell="stage" class=(format!("stage task-{}", text("stage_class"))) { (text("stage")) } }
            td { span data-cell="status" class=(format!("status {}", text("status_class"))) { (text("status")) } }
            td { (defined.and_then(|defined| defined.assignee.as_deref()).unwrap_or("")) }
            td data-cell="started" { (text("started")) }
            td data-cell="ended" { (text("ended")) }
            td data-cell="duration" { (text("duration")) }
        }
    }
}

/// Percent-encoding for a task id in a query or path.
pub(crate) fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The `Task Details` panel.
pub(crate) fn panel(
    signed: &Signed,
    view: &RunbookView,
    task: &TaskView<'_>,
    fires: &[FireLogView],
    catalog: &super::runbook::Catalog,
) -> Markup {
    let task_user_oauth =
        task.plan.action.as_ref().is_some_and(|action| catalog.task_user_oauth.contains(&action.reference.to_string()));
    let id = &task.plan.id;
    let base = format!("/runbooks/{}/tasks/{}", view.id, encode(id));
    let defined = view.definition.tasks.iter().find(|defined| defined.id == *id);
    let state = task.state;
    let runbook_stage = view.state.stage();
    let running = matches!(runbook_stage, RunbookStage::Active);
    let (status, status_class) = status_words(task);
    let may_tasks = signed.may(TASKS);
    let may_runbooks = signed.may(RUNBOOKS);
    let failed_or_cancelled =
        matches!(state.integration_status(), IntegrationStatus::Failed | IntegrationStatus::Cancelled);
    let may_refire = failed_or_cancelled && running;
    let cancelable = task.plan.action.as_ref().is_some_and(|action| action.cancelable) && state.has_active_fire();
    let form_button = |action: &str, label: &str| {
        html! {
            form method="post" action=(format!("{base}/{action}")) {
                (csrf(signed))
                button type="submit" { (label) }
            }
        }
    };
    html! {
        aside id="task-panel" class="task-panel" aria-labelledby="task-panel-title" data-task=(id) data-runbook=(view.id) {
            div class="heading" {
                h2 id="task-panel-title" { "Task Details" }
                a href=(format!("/runbooks/{}", view.id)) class="close" aria-label="Close task details" { "×" }
            }
            p class="task-name" { strong { (task.plan.name) } " " span class="task-id" { "(" (id) ")" } }
            @if task.plan.action.is_some() {
                p class="status-line" {
                    "Integration: "
                    span data-panel-status class=(format!("status {status_class}")) { (status) }
                }
            }
            p { "Stage: " span data-panel-stage { (stage_label(state.stage())) } }
            @if let Some(started) = state.started_at() {
                p { "Started " (time_label(Some(started))) @if let Some(ended) = state.ended_at() { ", ended " (time_label(Some(ended))) } }
            }
            div class="buttons task-buttons" {
                @if running && may_tasks && state.stage() == TaskStage::Startable { (form_button("start", "Start task")) }
                @if running && may_tasks && state.stage() == TaskStage::InProgress { (form_button("finish", "Finish task")) }
                @if running && may_runbooks && matches!(state.stage(), TaskStage::Startable | TaskStage::NotStartable | TaskStage::InProgress) {
                    button type="button" data-dialog-open="skip-task" { "Skip task" }
                }
                @if running && may_tasks && cancelable { (form_button("cancel", "Cancel task")) }
                @if may_tasks && task.plan.action.is_some() {
                    details class="menu" {
                        summary role="button" aria-label="More actions" { "⋮" }
                        div class="menu-items" {
                            @if may_refire { (form_button("refire", "Refire Integration")) }
                            @if task_user_oauth && signed.may(OAUTH) { a href=(format!("{base}/authenticate")) { "Authenticate" } }
                            @if !may_refire && !task_user_oauth { p class="hint" { "Nothing to do now." } }
                        }
                    }
                }
                @if runbook_stage == RunbookStage::Planning && may_runbooks {
                    a class="button" href=(format!("/runbooks/{}?task={}&edit=1", view.id, encode(id))) { "Edit task" }
                    (form_button("remove", "Remove task"))
                }
            }
            h3 { "Description" }
            p { (defined.and_then(|defined| defined.description.as_deref()).unwrap_or("—")) }
            h3 { "Predecessors" }
            @if task.plan.predecessors.is_empty() { p { "None" } } @else {
                ul { @for predecessor in &task.plan.predecessors { li { (predecessor) } } }
            }
            h3 { "Custom fields" }
            @if state.custom_fields().is_empty() { p { "None" } } @else {
                form method="post" action=(format!("{base}/fields")) class="fields" {
                    (csrf(signed))
                    @for (name, value) in state.custom_fields() {
                        @let field_id = format!("panel-field-{}", encode(name));
                        label for=(field_id) { (name) }
                        input id=(field_id) name=(format!("cf:{name}")) value=(field_text(value)) readonly[!may_tasks];
                    }
                    @if may_tasks { button type="submit" { "Save fields" } }
                }
            }
            @if state.skip_comment().is_some() {
                h3 { "Skip comment" }
                p { (state.skip_comment().unwrap_or_default()) }
            }
            (actions_section(fires))
            dialog id="skip-task" aria-labelledby="skip-task-title" data-modal {
                form method="post" action=(format!("{base}/skip")) {
                    (csrf(signed))
                    h2 id="skip-task-title" { "Skip task" }
                    label for="skip-comment" { "Comment" }
                    textarea id="skip-comment" name="comment" required rows="3" {}
                    div class="buttons" {
                        button type="button" data-dialog-close { "Cancel" }
                        button type="submit" class="primary" { "Skip" }
                    }
                }
            }
        }
    }
}

fn field_text(value: &cutover_integrations_core::model::FieldValue) -> String {
    match value {
        cutover_integrations_core::model::FieldValue::Text(text) => text.clone(),
        cutover_integrations_core::model::FieldValue::List(items) => items.join(", "),
    }
}

/// `Actions`: every fire and attempt, newest first, each attempt with its `Debug` dialog.
fn actions_section(fires: &[FireLogView]) -> Markup {
    html! {
        section class="actions-log" aria-labelledby="actions-title" {
            h3 id="actions-title" { "Actions" }
            @if fires.is_empty() { p { "No fires yet." } }
            ol reversed class="fires" {
                @for fire in fires.iter().rev() {
                    li {
                        p {
                            strong { "Fire " (fire.number) } " — "
                            (fire.outcome.map(outcome_label).unwrap_or("in progress"))
                        }
                        ol class="attempts" {
                            @for (index, entry) in fire.entries.iter().enumerate().rev() {
                                @match entry {
                                    LogEntry::Attempt(attempt) => {
                                        @let dialog = format!("debug-{}-{index}", fire.fire_id);
                                        li {
                                            (attempt_summary(attempt)) " "
                                            button type="button" class="link" data-dialog-open=(dialog) aria-label=(format!("Debug fire {} attempt {}", fire.number, attempt.attempt)) { "Debug" }
                                            (debug_dialog(&dialog, fire, attempt))
                                        }
                                    }
                                    LogEntry::Note(note) => {
                                        li class="note" { (time_label(Some(note.at))) " " (note.message) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn outcome_label(outcome: FireOutcome) -> &'static str {
    match outcome {
        FireOutcome::Succeeded => "Succeeded",
        FireOutcome::Failed => "Failed",
        FireOutcome::NotSent => "Not sent (rehearsal)",
        FireOutcome::Cancelled => "Cancelled",
        FireOutcome::Delivered | FireOutcome::Undelivered => "Ended",
    }
}

fn attempt_summary(attempt: &AttemptRecord) -> Markup {
    let what = match (&attempt.response, &attempt.error) {
        (_, Some(error)) => error.reason.clone(),
        (Some(response), None) => format!("HTTP {}", response.status),
        (None, None) => "not sent".to_owned(),
    };
    html! {
        span { (time_label(Some(attempt.started_at))) " · attempt " (attempt.attempt) " · " (what) " · " (attempt.duration_ms) " ms" }
    }
}

/// A body pretty-printed when it is JSON, as it is otherwise.
fn pretty(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| body.to_owned())
}

fn headers(list: &[HeaderRecord]) -> Markup {
    html! {
        @if list.is_empty() { p { "No headers." } } @else {
            table class="headers" {
                thead { tr { th scope="col" { "Header" } th scope="col" { "Value" } } }
                tbody { @for header in list { tr { td { (header.name) } td { (header.value) } } } }
            }
        }
    }
}

/// The `Debug` dialog of one attempt: `Request` and `Response` tabs; the failed one carries a warning triangle.
fn debug_dialog(id: &str, fire: &FireLogView, attempt: &AttemptRecord) -> Markup {
    let not_sent = fire.outcome == Some(FireOutcome::NotSent);
    let request_failed = attempt.request.is_none() && attempt.error.is_some();
    let response_failed = !request_failed
        && !not_sent
        && (attempt.error.is_some() || attempt.response.as_ref().is_some_and(|response| response.status >= 400));
    let request_tab = format!("{id}-request");
    let response_tab = format!("{id}-response");
    html! {
        dialog id=(id) class="debug" aria-labelledby=(format!("{id}-title")) data-modal {
            h2 id=(format!("{id}-title")) { "Debug" }
            p class="hint" { "Fire " (fire.number) ", attempt " (attempt.attempt) @if not_sent { " — not sent (rehearsal): the request that would have been sent" } }
            div role="tablist" aria-label="Request and response" {
                button type="button" role="tab" id=(format!("{request_tab}-tab")) aria-controls=(request_tab) aria-selected="true" tabindex="0"
                    aria-label=[request_failed.then_some("Request failed")] {
                    @if request_failed { span class="warning" aria-hidden="true" { "⚠" } " " }
                    "Request"
                }
                button type="button" role="tab" id=(format!("{response_tab}-tab")) aria-controls=(response_tab) aria-selected="false" tabindex="-1"
                    aria-label=[response_failed.then_some("Response failed")] {
                    @if response_failed { span class="warning" aria-hidden="true" { "⚠" } " " }
                    "Response"
                }
            }
            div role="tabpanel" id=(request_tab) aria-labelledby=(format!("{request_tab}-tab")) {
                @match &attempt.request {
                    Some(request) => {
                        p class="request-line" { code { (request.method) " " (request.url) } }
                        (headers(&request.headers))
                        h3 { "Body" }
                        pre class="body" data-body="request" { (request.body.as_deref().map(pretty).unwrap_or_default()) }
                        @if request.body_truncated { p class="hint" { "The body was cut at the log limit." } }
                        textarea id=(format!("{id}-curl")) class="curl" readonly rows="3" aria-label="curl command" { (request.curl) }
                        button type="button" data-copy=(format!("{id}-curl")) { "Copy as curl" }
                    }
                    None => {
                        p role="alert" { (attempt.error.as_ref().map(|error| error.reason.as_str()).unwrap_or("No request was made.")) }
                    }
                }
            }
            div role="tabpanel" id=(response_tab) aria-labelledby=(format!("{response_tab}-tab")) hidden {
                @if not_sent {
                    p { "Not sent (rehearsal): there is no response." }
                } @else {
                    @if let Some(error) = &attempt.error { p role="alert" class="status-bad" { (error.reason) } }
                    @if let Some(response) = &attempt.response {
                        p { "Status " strong data-status { (response.status) } " · " (attempt.duration_ms) " ms" }
                        (headers(&response.headers))
                        h3 { "Body" }
                        pre class="body" data-body="response" { (pretty(&response.body)) }
                        @if response.body_truncated { p class="hint" { "The body was cut at the log limit." } }
                    } @else {
                        p { "No response (" (attempt.duration_ms) " ms)." }
                    }
                }
            }
            div class="buttons" { button type="button" data-dialog-close { "Close" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        for (seconds, expected) in [(0, "0s"), (59, "59s"), (65, "1m 05s"), (3723, "1h 02m 03s")] {
            assert_eq!(duration_label(seconds), expected);
        }
    }

    #[test]
    fn json_bodies_are_pretty_printed_and_others_kept() {
        assert_eq!(pretty(r#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty("plain <text>"), "plain <text>");
    }
}
