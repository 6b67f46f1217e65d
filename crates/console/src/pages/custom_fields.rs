//! `Custom Fields`: the list, and the `New Custom Field` dialog (created through the engine's `create_custom_field`,
//! the REST API's operation).

use super::integrations::refused;
use super::layout::{self, SettingsPage, csrf, problems};
use crate::Console;
use crate::error::ConsoleError;
use crate::forms::Form;
use crate::guard::Signed;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_integrations_core::access::{CUSTOM_FIELDS, READ};
use cutover_integrations_core::model::{AppliesTo, CustomField, CustomFieldType, Visibility};
use maud::{Markup, html};
use serde_json::{Value, json};

/// The field types, as the API names them and as the console shows them.
const TYPES: [(&str, &str); 7] = [
    ("text", "Text"),
    ("textarea", "Textarea"),
    ("select", "Select Menu"),
    ("radio", "Radio Box"),
    ("checkboxes", "Checkboxes"),
    ("date", "Date"),
    ("user", "User Select"),
];

fn type_label(field_type: CustomFieldType) -> &'static str {
    let name =
        serde_json::to_value(field_type).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default();
    TYPES.iter().find(|(api, _)| *api == name).map(|(_, label)| *label).unwrap_or("Text")
}

fn list_page(signed: &Signed, fields: &[CustomField], actions: &[String], failed: Option<&[String]>) -> Markup {
    let can_edit = signed.may(CUSTOM_FIELDS);
    let content = html! {
        div class="heading" {
            h1 { "Custom Fields" }
            @if can_edit {
                button type="button" class="primary" data-dialog-open="new-custom-field" { "New Custom Field" }
            }
        }
        @if fields.is_empty() {
            p class="empty" { "No custom fields yet. Templates read them as " code { "{{CustomField['Name']}}" } "." }
        } @else {
            table {
                thead {
                    tr {
                        th scope="col" { "Name" } th scope="col" { "Visibility" } th scope="col" { "Field type" } th scope="col" { "Displays on" }
                        th scope="col" { "Restricted to" } th scope="col" { "Transient" } th scope="col" { "Required" }
                    }
                }
                tbody {
                    @for field in fields {
                        tr {
                            td { (field.name) }
                            td {
                                @match &field.visibility {
                                    Visibility::Global => { "Global" }
                                    Visibility::Workspace { workspace } => { "Workspace " (workspace) }
                                }
                            }
                            td { (type_label(field.field_type)) }
                            td { @if field.applies_to == AppliesTo::Runbook { "Runbook edit" } @else { "Task edit" } }
                            td { @if field.restrict_to.is_empty() { "Every action" } @else { (field.restrict_to.join(", ")) } }
                            td { @if field.transient { "Yes" } @else { "No" } }
                            td { @if field.required { "Yes" } @else { "No" } }
                        }
                    }
                }
            }
        }
        @if can_edit {
            dialog id="new-custom-field" aria-labelledby="new-custom-field-title" data-modal open[failed.is_some()] {
                form method="post" action="/settings/custom-fields" {
                    (csrf(signed))
                    h2 id="new-custom-field-title" { "New Custom Field" }
                    (problems(failed.unwrap_or(&[])))
                    label for="field-name" { "Name" }
                    input id="field-name" name="name" required maxlength="200";
                    label for="field-visibility" { "Visibility" }
                    select id="field-visibility" name="visibility" {
                        option value="global" { "Global" }
                        option value="workspace" { "Workspace" }
                    }
                    div data-shown-when="visibility=workspace" hidden {
                        label for="field-workspace" { "Workspace" }
                        input id="field-workspace" name="workspace" maxlength="200";
                    }
                    label for="field-type" { "Field type" }
                    select id="field-type" name="type" {
                        @for (value, label) in TYPES { option value=(value) { (label) } }
                    }
                    div data-shown-when="type=select|radio|checkboxes" hidden {
                        label for="field-options" { "Options" }
                        textarea id="field-options" name="options" rows="4" aria-describedby="field-options-hint" {}
                        p id="field-options-hint" class="hint" { "One option per line." }
                    }
                    label for="field-displays-on" { "Displays on" }
                    select id="field-displays-on" name="applies_to" {
                        option value="task" { "Task edit" }
                        option value="runbook" { "Runbook edit" }
                    }
                    label for="field-restrict" { "Restrict to integration" }
                    select id="field-restrict" name="restrict_to" multiple size=(actions.len().clamp(2, 6)) aria-describedby="field-restrict-hint" {
                        @for action in actions { option value=(action) { (action) } }
                    }
                    p id="field-restrict-hint" class="hint" { "The actions whose tasks show the field; none selected: every action." }
                    label class="check" { input type="checkbox" name="transient"; " Transient" }
                    label class="check" { input type="checkbox" name="required"; " Required" }
                    div class="buttons" {
                        button type="button" data-dialog-close { "Cancel" }
                        button type="submit" class="primary" { "Create" }
                    }
                }
            }
        }
    };
    layout::settings("Custom Fields", signed, SettingsPage::CustomFields, content)
}

async fn action_names(console: &Console) -> Result<Vec<String>, ConsoleError> {
    let mut names: Vec<String> = console
        .engine
        .integrations_redacted()
        .await?
        .into_iter()
        .filter(|record| !record.integration.archived)
        .flat_map(|record| record.integration.actions.into_iter().map(|action| action.name))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// `GET /settings/custom-fields`.
pub(crate) async fn list(State(console): State<Console>, signed: Signed) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading custom fields")?;
    let fields = console.engine.custom_fields().await?;
    let actions = action_names(&console).await?;
    Ok(layout::respond(StatusCode::OK, list_page(&signed, &fields, &actions, None)))
}

/// `POST /settings/custom-fields`: creates a field.
pub(crate) async fn create(
    State(console): State<Console>,
    signed: Signed,
    form: Form,
) -> Result<Response, ConsoleError> {
    signed.require(CUSTOM_FIELDS, "creating a custom field")?;
    let options: Vec<String> =
        form.raw("options").lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_owned).collect();
    let mut field = json!({
        "name": form.text("name"),
        "type": form.text("type"),
        "applies_to": form.text("applies_to"),
        "required": form.checked("required"),
        "transient": form.checked("transient"),
        "restrict_to": form.all("restrict_to"),
    });
    if form.text("visibility") == "workspace" {
        field["visibility"] = json!({"workspace": form.text("workspace")});
    }
    if !options.is_empty() {
        field["options"] = Value::from(options);
    }
    let mut lines = Vec::new();
    match console.engine.create_custom_field(&field).await {
        Ok(_) => return Ok(Redirect::to("/settings/custom-fields").into_response()),
        Err(error) => refused(error, &mut lines)?,
    }
    let fields = console.engine.custom_fields().await?;
    let actions = action_names(&console).await?;
    Ok(layout::respond(StatusCode::UNPROCESSABLE_ENTITY, list_page(&signed, &fields, &actions, Some(&lines))))
}
