//! `Runbooks`: the paged list with its stage filter, `New Runbook` (a name, or a definition file checked with
//! positioned errors) and `Duplicate` per runbook.

use super::integrations::refused;
use super::layout::{self, Section, csrf, problems};
use crate::Console;
use crate::error::ConsoleError;
use crate::forms::Form;
use crate::guard::Signed;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_integrations_core::access::{READ, RUNBOOKS};
use cutover_integrations_core::model::{Runbook, RunbookStage};
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{Engine, RunbookView};
use maud::{Markup, html};
use serde::Deserialize;

/// Runbooks per page.
const PAGE_SIZE: usize = 25;

/// The stage filters, as the query names them and as the page shows them.
const STAGES: [(&str, &str); 6] = [
    ("", "All"),
    ("planning", "Planning"),
    ("active", "Active"),
    ("paused", "Paused"),
    ("complete", "Complete"),
    ("cancelled", "Cancelled"),
];

/// `?stage=planning&page=2`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    #[serde(default)]
    stage: String,
    #[serde(default)]
    page: Option<usize>,
}

/// A stage's name as the API spells it.
pub(crate) fn stage_name(stage: RunbookStage) -> &'static str {
    match stage {
        RunbookStage::Planning => "planning",
        RunbookStage::Active => "active",
        RunbookStage::Paused => "paused",
        RunbookStage::Cancelled => "cancelled",
        RunbookStage::Complete => "complete",
    }
}

/// A stage for people.
pub(crate) fn stage_label(stage: RunbookStage) -> &'static str {
    STAGES.iter().find(|(name, _)| *name == stage_name(stage)).map(|(_, label)| *label).unwrap_or("")
}

/// A run mode for people.
pub(crate) fn mode_label(view: &RunbookView) -> &'static str {
    match view.state.mode() {
        Some(cutover_integrations_core::model::RunMode::Live) => "Live",
        Some(cutover_integrations_core::model::RunMode::Rehearsal) => "Rehearsal",
        None => "—",
    }
}

/// A time for people: `2026-12-01 23:05:09 UTC`.
pub(crate) fn time_label(at: Option<jiff::Timestamp>) -> String {
    at.map(|at| at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()).unwrap_or_default()
}

pub(crate) fn runbook_id(text: &str) -> Result<RunbookId, ConsoleError> {
    text.parse().map(RunbookId).map_err(|_| ConsoleError::NotFound(format!("runbook `{text}` does not exist")))
}

async fn list_views(engine: &Engine, query: &ListQuery) -> Result<(Vec<RunbookView>, usize), ConsoleError> {
    // Newest first. Reading a runbook is a cached read; only one page's worth is kept.
    let summaries = engine.runbooks().await?;
    let mut matching = Vec::new();
    let page = query.page.unwrap_or(1).max(1);
    let mut count = 0;
    for summary in summaries.iter().rev() {
        let view = engine.runbook(summary.id).await?;
        if !query.stage.is_empty() && stage_name(view.state.stage()) != query.stage {
            continue;
        }
        count += 1;
        if count > (page - 1) * PAGE_SIZE && count <= page * PAGE_SIZE {
            matching.push(view);
        }
    }
    Ok((matching, count))
}

fn list_page(
    signed: &Signed,
    query: &ListQuery,
    views: &[RunbookView],
    total: usize,
    failed: Option<&[String]>,
) -> Markup {
    let can_edit = signed.may(RUNBOOKS);
    let page = query.page.unwrap_or(1).max(1);
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let href = |stage: &str, page: usize| {
        let mut href = String::from("/runbooks");
        let mut sep = '?';
        if !stage.is_empty() {
            href.push_str(&format!("?stage={stage}"));
            sep = '&';
        }
        if page > 1 {
            href.push_str(&format!("{sep}page={page}"));
        }
        href
    };
    let content = html! {
        div class="runbooks" {
            div class="heading" {
                h1 { "Runbooks" }
                @if can_edit {
                    button type="button" class="primary" data-dialog-open="new-runbook" { "New Runbook" }
                }
            }
            nav class="filters" aria-label="Stage" {
                @for (stage, label) in STAGES {
                    a href=(href(stage, 1)) aria-current=[(query.stage == stage).then_some("page")] { (label) }
                }
            }
            @if views.is_empty() {
                p class="empty" { "No runbooks here yet." }
            } @else {
                table class="runbook-list" {
                    thead {
                        tr {
                            th scope="col" { "Name" } th scope="col" { "Stage" } th scope="col" { "Mode" }
                            th scope="col" { "Progress" } th scope="col" { "Started" }
                            @if can_edit { th scope="col" { span class="visually-hidden" { "Actions" } } }
                        }
                    }
                    tbody {
                        @for view in views {
                            @let total = view.state.tasks().len();
                            @let done = view.state.done_count();
                            tr {
                                td { a href=(format!("/runbooks/{}", view.id)) { (view.definition.name) } }
                                td { span class=(format!("stage stage-{}", stage_name(view.state.stage()))) { (stage_label(view.state.stage())) } }
                                td { (mode_label(view)) }
                                td {
                                    progress max=(total.max(1)) value=(done) aria-label=(format!("{done} of {total} tasks done")) {}
                                    " " (done) "/" (total)
                                }
                                td { (time_label(view.state.started_at())) }
                                @if can_edit {
                                    td {
                                        form method="post" action=(format!("/runbooks/{}/duplicate", view.id)) {
                                            (csrf(signed))
                                            button type="submit" aria-label=(format!("Duplicate {}", view.definition.name)) { "Duplicate" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if pages > 1 {
                    nav class="pager" aria-label="Pages" {
                        @if page > 1 { a href=(href(&query.stage, page - 1)) { "Previous" } }
                        span { "Page " (page) " of " (pages) }
                        @if page < pages { a href=(href(&query.stage, page + 1)) { "Next" } }
                    }
                }
            }
            @if can_edit {
                dialog id="new-runbook" aria-labelledby="new-runbook-title" data-modal open[failed.is_some()] {
                    form method="post" action="/runbooks" {
                        (csrf(signed))
                        h2 id="new-runbook-title" { "New Runbook" }
                        (problems(failed.unwrap_or(&[])))
                        label for="runbook-name" { "Name" }
                        input id="runbook-name" name="name" maxlength="200" aria-describedby="runbook-name-hint";
                        p id="runbook-name-hint" class="hint" { "An empty runbook to plan here, or leave it blank and give a definition file." }
                        label for="runbook-file" { "Definition file" }
                        input id="runbook-file" type="file" accept=".yaml,.yml,.json" data-file-into="runbook-definition";
                        label for="runbook-definition" { "Definition" }
                        textarea id="runbook-definition" name="definition" rows="8" spellcheck="false" {}
                        input type="hidden" name="file_name" id="runbook-file-name" value="runbook.yaml";
                        div class="buttons" {
                            button type="button" data-dialog-close { "Cancel" }
                            button type="submit" class="primary" { "Create" }
                        }
                    }
                }
            }
            link rel="stylesheet" href=(crate::assets::url("runbook", "css"));
            script type="module" src=(crate::assets::url("runbook", "js")) {}
        }
    };
    layout::page("Runbooks", Some(signed), Section::Runbooks, content)
}

/// `GET /runbooks`.
pub(crate) async fn list(
    State(console): State<Console>,
    signed: Signed,
    Query(query): Query<ListQuery>,
) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading runbooks")?;
    let (views, total) = list_views(&console.engine, &query).await?;
    Ok(layout::respond(StatusCode::OK, list_page(&signed, &query, &views, total, None)))
}

/// `POST /runbooks`: a runbook from a definition, or an empty one named.
pub(crate) async fn create(
    State(console): State<Console>,
    signed: Signed,
    form: Form,
) -> Result<Response, ConsoleError> {
    signed.require(RUNBOOKS, "creating a runbook")?;
    let definition = form.raw("definition");
    let name = form.text("name");
    let file_name =
        Some(form.text("file_name")).filter(|name| !name.is_empty()).unwrap_or_else(|| "runbook.yaml".into());
    let created = if !definition.trim().is_empty() {
        console.engine.create_runbook_from_file(&file_name, definition).await
    } else if name.is_empty() {
        Err(cutover_integrations_core::EngineError::invalid_input("name", "give a name or a definition file"))
    } else {
        let runbook =
            Runbook { name, workspace: None, description: None, custom_fields: Default::default(), tasks: Vec::new() };
        console.engine.create_runbook(runbook).await
    };
    let mut lines = Vec::new();
    match created {
        Ok(id) => return Ok(Redirect::to(&format!("/runbooks/{id}")).into_response()),
        Err(error) => refused(error, &mut lines)?,
    }
    let query = ListQuery::default();
    let (views, total) = list_views(&console.engine, &query).await?;
    Ok(layout::respond(StatusCode::UNPROCESSABLE_ENTITY, list_page(&signed, &query, &views, total, Some(&lines))))
}

/// `POST /runbooks/{id}/duplicate`: a copy in planning, opened.
pub(crate) async fn duplicate(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    signed.require(RUNBOOKS, "duplicating a runbook")?;
    let copy = console.engine.duplicate_runbook(runbook_id(&id)?).await?;
    Ok(Redirect::to(&format!("/runbooks/{copy}")).into_response())
}
