//! The console's pages, one module per screen.

pub(crate) mod actions;
pub(crate) mod custom_fields;
pub(crate) mod event_integrations;
pub(crate) mod graph;
pub(crate) mod integrations;
pub(crate) mod layout;
pub(crate) mod parameters;
pub(crate) mod runbook;
pub(crate) mod runbooks;
pub(crate) mod sign_in;
pub(crate) mod task;
pub(crate) mod users;

use crate::guard::Signed;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_integrations_core::model::Role;

/// `GET /`: the Settings for a signed-in user, else the sign-in page.
pub(crate) async fn home(signed: Option<Signed>) -> Response {
    match signed {
        Some(_) => Redirect::to("/settings/integrations").into_response(),
        None => Redirect::to("/sign-in").into_response(),
    }
}

/// `GET /settings`: its first page.
pub(crate) async fn settings(_signed: Signed) -> Redirect {
    Redirect::to("/settings/integrations")
}

/// A role's name as the API spells it (`integrations_admin`).
pub(crate) fn role_name(role: &Role) -> String {
    serde_json::to_value(role).ok().and_then(|value| value.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A role's name for people.
pub(crate) fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Admin",
        Role::IntegrationsAdmin => "Integrations admin",
        Role::CustomFieldsAdmin => "Custom fields admin",
        Role::RunbookAdmin => "Runbook admin",
        Role::Operator => "Operator",
        Role::Viewer => "Viewer",
    }
}
