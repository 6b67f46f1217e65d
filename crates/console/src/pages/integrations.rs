//! `Integrations`: the connections list, the `New Integration Connection` dialog, and the `Edit Custom Integration`
//! panel (`Edit Predefined Integration` for a catalog entry's connection) with the connection's actions.

use super::layout::{self, SettingsPage, csrf, problems};
use crate::error::{ConsoleError, engine_status};
use crate::forms::Form;
use crate::guard::Signed;
use crate::{Console, assets};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_integrations_core::access::{ADMIN, INTEGRATIONS, READ};
use cutover_integrations_core::integration_catalog::entries;
use cutover_integrations_core::model::IntegrationKind;
use cutover_integrations_core::store::{IntegrationId, IntegrationRecord};
use cutover_integrations_core::{EngineError, IntegrationEdit};
use maud::{Markup, html};
use serde_json::json;
use std::collections::BTreeMap;

/// Where `Learn more` leads: the README's section on integrations.
pub(crate) const LEARN_MORE: &str =
    "https://github.com/cutover-integrations/cutover-integrations/blob/main/README.md#web-console";

/// The icon of an integration: its image URL, or our default.
pub(crate) fn icon(url: Option<&str>) -> String {
    url.map(str::to_owned).unwrap_or_else(|| assets::url("integration", "svg"))
}

/// Connections oldest first, so that a new one appears at the bottom of the list.
fn in_creation_order(mut records: Vec<IntegrationRecord>) -> Vec<IntegrationRecord> {
    records.sort_by_key(|record| record.id.0);
    records
}

/// What the new-connection dialog shows again after a refused create.
#[derive(Debug, Default)]
struct Draft {
    name: String,
    image_url: String,
    problems: Vec<String>,
}

fn list_page(signed: &Signed, records: &[IntegrationRecord], draft: Option<&Draft>) -> Markup {
    let can_edit = signed.may(INTEGRATIONS);
    let content = html! {
        div class="heading" {
            h1 { "Integration Connections" }
            @if can_edit {
                button type="button" class="primary" data-dialog-open="new-integration" { "Create Integration" }
            }
        }
        @if records.is_empty() {
            div class="empty" {
                p { "No integration connections yet. A connection groups the actions that send requests to one third party." }
                a href=(LEARN_MORE) { "Learn more" }
            }
        } @else {
            ul class="connections" {
                @for record in records {
                    li {
                        img src=(icon(record.integration.image_url.as_deref())) alt="" width="32" height="32";
                        a class="name" href=(format!("/settings/integrations/{}", record.id)) { (record.integration.name) }
                        span class="meta" { (record.integration.actions.len()) " action" @if record.integration.actions.len() != 1 { "s" } }
                        @if record.integration.archived { span class="badge" { "Archived" } }
                    }
                }
            }
        }
        @if can_edit {
            (new_dialog(signed, draft))
        }
    };
    layout::settings("Integrations", signed, SettingsPage::Integrations, content)
}

fn new_dialog(signed: &Signed, draft: Option<&Draft>) -> Markup {
    let empty = Draft::default();
    let shown = draft.unwrap_or(&empty);
    html! {
        dialog id="new-integration" aria-labelledby="new-integration-title" data-modal open[draft.is_some()] {
            form method="post" action="/settings/integrations" {
                (csrf(signed))
                h2 id="new-integration-title" { "New Integration Connection" }
                (problems(&shown.problems))
                fieldset class="choice" {
                    legend { "Kind" }
                    label { input type="radio" name="kind" value="custom" checked; " Custom integration" }
                    label { input type="radio" name="kind" value="predefined"; " Predefined integration" }
                }
                div data-shown-when="kind=custom" {
                    label for="integration-name" { "Name" }
                    input id="integration-name" name="name" value=(shown.name) maxlength="200";
                    label for="integration-image" { "Image URL" }
                    input id="integration-image" name="image_url" type="text" inputmode="url" value=(shown.image_url) placeholder="https://… or /assets/catalog/… (blank: the default image)";
                }
                div data-shown-when="kind=predefined" hidden {
                    (predefined_picker())
                }
                div class="buttons" {
                    button type="button" data-dialog-close { "Cancel" }
                    button type="submit" class="primary" { "Create" }
                }
            }
        }
    }
}

/// The `Predefined integration` picker: the catalog's entries, and the settings of the one chosen (secrets as password
/// inputs, never filled in again).
fn predefined_picker() -> Markup {
    html! {
        label for="integration-catalog" { "Integration" }
        select id="integration-catalog" name="catalog" {
            @for entry in entries() {
                option value=(entry.name) { (entry.title) }
            }
        }
        label for="predefined-name" { "Connection name" }
        input id="predefined-name" name="predefined_name" maxlength="200" placeholder="blank: the integration's own name";
        @for entry in entries() {
            div data-shown-when=(format!("catalog={}", entry.name)) hidden[entry.name != entries()[0].name] {
                p class="hint" { (with_code(entry.summary)) }
                @for setting in entry.settings {
                    @let id = format!("setting-{}-{}", entry.name, setting.key);
                    @let name = format!("setting.{}.{}", entry.name, setting.key);
                    @let required = setting.default.is_none() && !setting.optional;
                    label for=(id) { (setting.label) @if required { " *" } }
                    @if setting.kind.is_secret() {
                        input id=(id) name=(name) type="password" autocomplete="new-password" aria-describedby=(format!("{id}-hint"));
                    } @else {
                        input id=(id) name=(name) type=(if setting.kind.is_url() { "url" } else { "text" })
                            placeholder=(setting.default.unwrap_or(setting.placeholder)) aria-describedby=(format!("{id}-hint"));
                    }
                    p id=(format!("{id}-hint")) class="hint" { (with_code(setting.description)) }
                }
            }
        }
    }
}

/// Installs the catalog entry the form picked, with the settings typed for it; problems go to the draft.
async fn install_predefined(
    console: &Console,
    signed: &Signed,
    form: &Form,
    draft: &mut Draft,
) -> Result<Option<String>, ConsoleError> {
    if !signed.may(ADMIN) {
        draft.problems.push("Integration: only an admin installs predefined integrations".to_owned());
        return Ok(None);
    }
    let chosen = form.text("catalog");
    let Some(entry) = entries().iter().find(|entry| entry.name == chosen) else {
        draft.problems.push("Integration: choose a predefined integration".to_owned());
        return Ok(None);
    };
    let mut settings = BTreeMap::new();
    for setting in entry.settings {
        let value = form.raw(&format!("setting.{}.{}", entry.name, setting.key));
        if !value.trim().is_empty() {
            settings.insert(setting.key.to_owned(), value.to_owned());
        }
    }
    let name = form.optional("predefined_name");
    match console.engine.install_catalog_entry(entry.name, name.as_deref(), &settings).await {
        Ok(installed) => Ok(Some(installed.applied.integration_id.to_string())),
        Err(error) => {
            refused(error, &mut draft.problems)?;
            Ok(None)
        }
    }
}

/// `GET /settings/integrations`.
pub(crate) async fn list(State(console): State<Console>, signed: Signed) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading integrations")?;
    let records = in_creation_order(console.engine.integrations_redacted().await?);
    Ok(layout::respond(StatusCode::OK, list_page(&signed, &records, None)))
}

/// `POST /settings/integrations`: creates a custom connection (a definition with no actions yet).
pub(crate) async fn create(
    State(console): State<Console>,
    signed: Signed,
    form: Form,
) -> Result<Response, ConsoleError> {
    signed.require(INTEGRATIONS, "creating an integration")?;
    let records = in_creation_order(console.engine.integrations_redacted().await?);
    let name = form.text("name");
    let image_url = form.optional("image_url");
    let mut draft =
        Draft { name: name.clone(), image_url: image_url.clone().unwrap_or_default(), problems: Vec::new() };
    if form.text("kind") == "predefined" {
        if let Some(id) = install_predefined(&console, &signed, &form, &mut draft).await? {
            return Ok(Redirect::to(&format!("/settings/integrations/{id}")).into_response());
        }
    } else if name.is_empty() {
        draft.problems.push("Name: give the connection a name".to_owned());
    } else if records.iter().any(|record| record.integration.name == name) {
        draft.problems.push(format!("Name: an integration named `{name}` exists already"));
    }
    if draft.problems.is_empty() && form.text("kind") != "predefined" {
        let document = json!({"kind": "integration", "name": name, "image_url": image_url, "actions": []});
        match console.engine.apply_definitions(&[("console.json", &document.to_string())]).await {
            Ok(applied) => {
                let id =
                    applied.integrations.first().map(|applied| applied.integration_id.to_string()).unwrap_or_default();
                return Ok(Redirect::to(&format!("/settings/integrations/{id}")).into_response());
            }
            Err(error) => refused(error, &mut draft.problems)?,
        }
    }
    Ok(layout::respond(StatusCode::UNPROCESSABLE_ENTITY, list_page(&signed, &records, Some(&draft))))
}

/// Keeps the problems of a refusal for the form; other errors go up.
pub(crate) fn refused(error: EngineError, lines: &mut Vec<String>) -> Result<(), ConsoleError> {
    match engine_status(&error) {
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT => {
            lines.extend(crate::error::problems(&error));
            Ok(())
        }
        _ => Err(ConsoleError::Engine(error)),
    }
}

pub(crate) fn integration_id(text: &str) -> Result<IntegrationId, ConsoleError> {
    text.parse().map(IntegrationId).map_err(|_| ConsoleError::NotFound(format!("integration `{text}` does not exist")))
}

/// The panel's heading: which kind of connection is edited.
fn panel_heading(kind: IntegrationKind) -> &'static str {
    match kind {
        IntegrationKind::Custom => "Edit Custom Integration",
        IntegrationKind::Predefined => "Edit Predefined Integration",
    }
}

/// A catalog text with its `code` spans (between backticks, as the catalog's descriptions write them) as `<code>`
/// elements; an unpaired backtick stays as it is.
fn with_code(text: &str) -> Markup {
    let parts: Vec<&str> = text.split('`').collect();
    let paired = parts.len() % 2 == 1;
    html! {
        @for (index, part) in parts.iter().enumerate() {
            @if index % 2 == 1 && (paired || index + 1 < parts.len()) {
                code { (part) }
            } @else if index % 2 == 1 {
                "`" (part)
            } @else {
                (part)
            }
        }
    }
}

/// The `Edit Custom Integration` (or `Edit Predefined Integration`) panel.
pub(crate) fn edit_page(
    signed: &Signed,
    record: &IntegrationRecord,
    lines: &[String],
    dialog: Option<Markup>,
) -> Markup {
    let can_edit = signed.may(INTEGRATIONS);
    let integration = &record.integration;
    let base = format!("/settings/integrations/{}", record.id);
    let content = html! {
        p class="crumbs" { a href="/settings/integrations" { "Integration Connections" } }
        div class="panel" {
            div class="heading" {
                img src=(icon(integration.image_url.as_deref())) alt="" width="40" height="40";
                h1 { (panel_heading(integration.integration_kind)) }
                @if integration.archived { span class="badge" { "Archived" } }
            }
            (problems(lines))
            form method="post" action=(base) class="fields" {
                (csrf(signed))
                label for="edit-name" { "Name" }
                input id="edit-name" name="name" value=(integration.name) readonly[!can_edit] maxlength="200" aria-describedby="edit-name-hint";
                p id="edit-name-hint" class="hint" { "Runbook tasks name its actions " code { (integration.name) "/ACTION" } ": it can be renamed while no runbook uses it." }
                label for="edit-image" { "Image URL" }
                input id="edit-image" name="image_url" type="text" inputmode="url" value=[integration.image_url.as_deref()] readonly[!can_edit] placeholder="https://… or /assets/catalog/… (blank: the default image)";
                @if can_edit {
                    div class="buttons" { button type="submit" class="primary" { "Save" } }
                }
            }
            @if can_edit {
                form method="post" action=(format!("{base}/archive")) class="archive" {
                    (csrf(signed))
                    @if integration.archived {
                        input type="hidden" name="archived" value="false";
                        button type="submit" { "Restore" }
                    } @else {
                        input type="hidden" name="archived" value="true";
                        button type="submit" class="danger" { "Archive" }
                    }
                }
            }
        }
        section class="panel" aria-labelledby="actions-title" {
            div class="heading" {
                h2 id="actions-title" { "Integration Actions" }
                @if can_edit { a class="button" role="button" href=(format!("{base}/actions/new")) { "New" } }
            }
            @if integration.actions.is_empty() {
                p class="empty" { "No actions yet. An action is one request this integration sends, for example when a task starts." }
            } @else {
                table class="actions" {
                    thead { tr { th scope="col" { "Action" } th scope="col" { "Trigger" } th scope="col" { "Request" } th scope="col" { span class="visually-hidden" { "Edit" } } } }
                    tbody {
                        @for (action, id) in integration.actions.iter().zip(&record.action_ids) {
                            tr {
                                td class="action-name" {
                                    img src=(icon(action.image_url.as_deref().or(integration.image_url.as_deref()))) alt="" width="20" height="20";
                                    " " (action.name)
                                }
                                td { (super::actions::trigger_label(action.trigger)) }
                                td {
                                    @match &action.request {
                                        Some(request) => { code { (request.method.as_str()) " " (request.url) } }
                                        None => { span class="badge draft" { "Draft" } " " span class="hint" { "no request yet: no task can use it" } }
                                    }
                                }
                                td class="cog" {
                                    a class="icon-button" role="button" href=(format!("{base}/actions/{id}")) aria-label=(format!("Edit action {}", action.name)) title=(format!("Edit action {}", action.name)) { "⚙" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(dialog) = dialog { (dialog) }
    };
    layout::settings(&integration.name, signed, SettingsPage::Integrations, content)
}

/// `GET /settings/integrations/{id}`.
pub(crate) async fn edit(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading integrations")?;
    let record = console.engine.integration_redacted(integration_id(&id)?).await?;
    Ok(layout::respond(StatusCode::OK, edit_page(&signed, &record, &[], None)))
}

/// `POST /settings/integrations/{id}`: saves the image URL.
pub(crate) async fn save(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, ConsoleError> {
    signed.require(INTEGRATIONS, "editing an integration")?;
    let id = integration_id(&id)?;
    let edit =
        IntegrationEdit { name: Some(form.text("name")), image_url: Some(form.text("image_url")), archived: None };
    match console.engine.edit_integration(id, &edit).await {
        Ok(_) => Ok(Redirect::to(&format!("/settings/integrations/{id}")).into_response()),
        Err(error) => {
            let mut lines = Vec::new();
            refused(error, &mut lines)?;
            let record = console.engine.integration_redacted(id).await?;
            Ok(layout::respond(StatusCode::UNPROCESSABLE_ENTITY, edit_page(&signed, &record, &lines, None)))
        }
    }
}

/// `POST /settings/integrations/{id}/archive`: archives or restores.
pub(crate) async fn archive(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    form: Form,
) -> Result<Response, ConsoleError> {
    signed.require(INTEGRATIONS, "archiving an integration")?;
    let id = integration_id(&id)?;
    let edit = IntegrationEdit { archived: Some(form.text("archived") != "false"), ..IntegrationEdit::default() };
    console.engine.edit_integration(id, &edit).await?;
    Ok(Redirect::to(&format!("/settings/integrations/{id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::with_code;

    #[test]
    fn code_spans_become_code_elements_and_a_lone_backtick_stays() {
        for (text, html) in [
            ("plain", "plain"),
            ("a `b` c", "a <code>b</code> c"),
            ("`x` and `y`", "<code>x</code> and <code>y</code>"),
            ("a `b` c `d", "a <code>b</code> c `d"),
            ("`<script>`", "<code>&lt;script&gt;</code>"),
        ] {
            assert_eq!(with_code(text).into_string(), html, "{text}");
        }
    }
}
