//! `System Parameters`: named values every integration may read; a secret one is never shown back, only replaced.

use super::integrations::refused;
use super::layout::{self, SettingsPage, csrf, problems};
use crate::Console;
use crate::error::ConsoleError;
use crate::forms::Form;
use crate::guard::Signed;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_integrations_core::access::{INTEGRATIONS, READ};
use cutover_integrations_core::model::{SecretValue, SystemParameter};
use maud::{Markup, html};

fn list_page(signed: &Signed, parameters: &[SystemParameter], lines: &[String]) -> Markup {
    let can_edit = signed.may(INTEGRATIONS);
    let content = html! {
        div class="heading" { h1 { "System Parameters" } }
        p class="hint" { "Templates read them as " code { "{{SystemParameter['name']}}" } ". A secret value is stored encrypted and never shown again: save the name with a new value to replace it." }
        @if parameters.is_empty() {
            p class="empty" { "No system parameters yet." }
        } @else {
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Value" } } }
                tbody {
                    @for parameter in parameters {
                        tr {
                            td { code { (parameter.name) } }
                            td {
                                @if parameter.secret {
                                    span class="masked" aria-label="secret, hidden" { "••••••••" } " " span class="badge" { "Secret" }
                                } @else {
                                    (parameter.value.expose())
                                }
                            }
                        }
                    }
                }
            }
        }
        @if can_edit {
            form method="post" action="/settings/system-parameters" class="panel fields" {
                (csrf(signed))
                h2 { "Add or replace a parameter" }
                (problems(lines))
                label for="parameter-name" { "Name" }
                input id="parameter-name" name="name" required maxlength="200";
                label for="parameter-value" { "Value" }
                input id="parameter-value" name="value" type="password" autocomplete="off" required;
                label class="check" { input type="checkbox" name="secret" checked; " Secret" }
                div class="buttons" { button type="submit" class="primary" { "Save parameter" } }
            }
        }
    };
    layout::settings("System Parameters", signed, SettingsPage::SystemParameters, content)
}

/// `GET /settings/system-parameters`.
pub(crate) async fn list(State(console): State<Console>, signed: Signed) -> Result<Response, ConsoleError> {
    signed.require(READ, "reading system parameters")?;
    let parameters = console.engine.system_parameters().await?;
    Ok(layout::respond(StatusCode::OK, list_page(&signed, &parameters, &[])))
}

/// `POST /settings/system-parameters`: creates or replaces a parameter.
pub(crate) async fn put(State(console): State<Console>, signed: Signed, form: Form) -> Result<Response, ConsoleError> {
    signed.require(INTEGRATIONS, "saving a system parameter")?;
    let name = form.text("name");
    let mut lines = Vec::new();
    if name.is_empty() {
        lines.push("Name: must not be empty".to_owned());
    } else {
        let parameter = SystemParameter {
            name,
            value: SecretValue::new(form.raw("value").to_owned()),
            secret: form.checked("secret"),
        };
        match console.engine.put_system_parameter(&parameter).await {
            Ok(()) => return Ok(Redirect::to("/settings/system-parameters").into_response()),
            Err(error) => refused(error, &mut lines)?,
        }
    }
    let parameters = console.engine.system_parameters().await?;
    Ok(layout::respond(StatusCode::UNPROCESSABLE_ENTITY, list_page(&signed, &parameters, &lines)))
}
