//! `Users`: the list, and creating a user with roles; the new user's API token is shown once, with a copy button.

use super::integrations::refused;
use super::layout::{self, SettingsPage, csrf, problems};
use super::{role_label, role_name};
use crate::Console;
use crate::error::ConsoleError;
use crate::forms::Form;
use crate::guard::Signed;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use cutover_integrations_core::access::ADMIN;
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::{NewUser, User};
use maud::{Markup, html};
use secrecy::{ExposeSecret, SecretString};

const ROLES: [Role; 6] =
    [Role::Admin, Role::IntegrationsAdmin, Role::CustomFieldsAdmin, Role::RunbookAdmin, Role::Operator, Role::Viewer];

/// What the page shows besides the list.
#[derive(Default)]
struct Outcome {
    problems: Vec<String>,
    created: Option<(String, SecretString)>,
}

fn list_page(signed: &Signed, users: &[User], outcome: &Outcome) -> Markup {
    let content = html! {
        div class="heading" { h1 { "Users" } }
        @if let Some((name, token)) = &outcome.created {
            div class="panel created" role="status" {
                h2 { "API token of " (name) }
                p { "Copy it now: it is shown this once, and only its hash is kept." }
                div class="copy" {
                    label for="new-token" class="visually-hidden" { "New API token" }
                    input id="new-token" readonly value=(token.expose_secret());
                    button type="button" data-copy="new-token" { "Copy" }
                }
            }
        }
        table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Roles" } } }
            tbody {
                @for user in users {
                    tr {
                        td { (user.name) }
                        td { (user.email) }
                        td { (user.roles.iter().map(|role| role_label(*role)).collect::<Vec<_>>().join(", ")) }
                    }
                }
            }
        }
        form method="post" action="/settings/users" class="panel fields" {
            (csrf(signed))
            h2 { "Create a user" }
            (problems(&outcome.problems))
            label for="user-name" { "Name" }
            input id="user-name" name="name" required maxlength="200";
            label for="user-email" { "Email" }
            input id="user-email" name="email" type="email" required maxlength="320";
            fieldset class="choice" {
                legend { "Roles" }
                @for role in ROLES {
                    label { input type="checkbox" name="roles" value=(role_name(&role)); " " (role_label(role)) }
                }
            }
            div class="buttons" { button type="submit" class="primary" { "Create user" } }
        }
    };
    layout::settings("Users", signed, SettingsPage::Users, content)
}

/// `GET /settings/users`.
pub(crate) async fn list(State(console): State<Console>, signed: Signed) -> Result<Response, ConsoleError> {
    signed.require(ADMIN, "managing users")?;
    let users = console.engine.users().await?;
    Ok(layout::respond(StatusCode::OK, list_page(&signed, &users, &Outcome::default())))
}

/// `POST /settings/users`: creates a user and shows its token once.
pub(crate) async fn create(
    State(console): State<Console>,
    signed: Signed,
    form: Form,
) -> Result<Response, ConsoleError> {
    signed.require(ADMIN, "managing users")?;
    let mut outcome = Outcome::default();
    let name = form.text("name");
    let email = form.text("email");
    let roles: Vec<Role> = form
        .all("roles")
        .iter()
        .filter_map(|value| ROLES.iter().copied().find(|role| role_name(role) == *value))
        .collect();
    // The engine checks the user (the REST API's rules): name, email address, at least one role.
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    match console.engine.create_user(&NewUser { name, email, roles }).await {
        Ok(created) => {
            status = StatusCode::CREATED;
            outcome.created = Some((created.user.name, created.token));
        }
        Err(error) => refused(error, &mut outcome.problems)?,
    }
    let users = console.engine.users().await?;
    Ok(layout::respond(status, list_page(&signed, &users, &outcome)))
}
