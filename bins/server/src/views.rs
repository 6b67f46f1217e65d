//! The JSON the API answers with. Secrets never appear: action auth secrets are `[REDACTED]`, secret system
//! parameters have `"value": null`, API tokens are shown once, at user creation.

use cutover_integrations_core::REDACTED;
use cutover_integrations_core::model::{Action, SystemParameter};
use cutover_integrations_core::runbook::TaskView;
use cutover_integrations_core::store::{ActionId, ActionRecord, IntegrationRecord, RunbookListing, User};
use cutover_integrations_core::{OAuthStatus, RunbookView};
use serde_json::{Value, json};

/// A user, without any token.
pub(crate) fn user(user: &User) -> Value {
    json!({"id": user.id, "name": user.name, "email": user.email, "roles": user.roles})
}

/// An integration with its actions (secrets masked).
pub(crate) fn integration(record: &IntegrationRecord) -> Value {
    let integration = &record.integration;
    let actions: Vec<Value> =
        integration.actions.iter().zip(&record.action_ids).map(|(action, id)| action_body(*id, action)).collect();
    json!({
        "id": record.id,
        "name": integration.name,
        "type": integration.integration_kind,
        "image_url": integration.image_url,
        "archived": integration.archived,
        "custom_fields": integration.custom_fields,
        "actions": actions,
    })
}

/// A stored action with its integration (secrets masked).
pub(crate) fn action(record: &ActionRecord) -> Value {
    let mut body = action_body(record.id, &record.action);
    if let Value::Object(object) = &mut body {
        object.insert("integration_id".to_owned(), json!(record.integration_id));
        object.insert("integration".to_owned(), json!(record.integration_name));
        object.insert("archived".to_owned(), json!(record.archived));
    }
    body
}

/// Where an OAuth action's functional-user token stands (never the token): `status` (`not_authorized`,
/// `authorized`, `needs_reauthentication`), and for a token who authenticated it and when.
pub(crate) fn oauth_status(status: &OAuthStatus) -> Value {
    match status {
        OAuthStatus::NotAuthorized => json!({"status": "not_authorized"}),
        OAuthStatus::Authorized { obtained_at, expires_at, authorized } => json!({
            "status": "authorized",
            "obtained_at": obtained_at.to_string(),
            "expires_at": expires_at.map(|at| at.to_string()),
            "authenticated_by": authorized.as_ref().map(|authorizer| authorizer.user.clone()),
            "authenticated_at": authorized.as_ref().map(|authorizer| authorizer.at.to_string()),
        }),
        OAuthStatus::NeedsReauthentication { reason, since } => {
            json!({"status": "needs_reauthentication", "reason": reason, "since": since.to_string()})
        }
    }
}

/// An action's definition with its id first and every auth secret replaced by `[REDACTED]`.
fn action_body(id: ActionId, action: &Action) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("id".to_owned(), json!(id));
    if let Ok(Value::Object(definition)) = serde_json::to_value(action) {
        object.extend(definition);
    }
    if let Some(Value::Object(auth)) = object.get_mut("auth") {
        for field in ["token", "password", "value", "client_secret"] {
            if let Some(value) = auth.get_mut(field) {
                *value = Value::String(REDACTED.to_owned());
            }
        }
    }
    Value::Object(object)
}

/// A system parameter; a secret one shows no value.
pub(crate) fn system_parameter(parameter: &SystemParameter) -> Value {
    let value = if parameter.secret { Value::Null } else { Value::String(parameter.value.expose().to_owned()) };
    json!({"name": parameter.name, "secret": parameter.secret, "value": value})
}

/// A runbook in a list: id, name, workspace, stage, mode.
pub(crate) fn runbook_listing(listing: &RunbookListing) -> Value {
    json!({
        "id": listing.id,
        "name": listing.name,
        "workspace": listing.workspace,
        "stage": listing.stage,
        "mode": listing.mode,
    })
}

/// A runbook with its tasks.
pub(crate) fn runbook(view: &RunbookView) -> Value {
    let tasks: Vec<Value> = view.state.tasks().map(|task| self::task(view, task)).collect();
    json!({
        "id": view.id,
        "name": view.definition.name,
        "workspace": view.definition.workspace,
        "description": view.definition.description,
        "stage": view.state.stage(),
        "mode": view.state.mode(),
        "custom_fields": view.state.custom_fields(),
        "started_at": view.state.started_at(),
        "ended_at": view.state.ended_at(),
        "done": view.state.done_count(),
        "tasks": tasks,
    })
}

/// One task: plan, stage, integration status with its failure or waiting reason, custom field values.
pub(crate) fn task(view: &RunbookView, task: TaskView<'_>) -> Value {
    let defined = view.definition.tasks.iter().find(|defined| defined.id == task.plan.id);
    let state = task.state;
    json!({
        "id": task.plan.id,
        "name": task.plan.name,
        "description": defined.and_then(|defined| defined.description.as_deref()),
        "action": task.plan.action.as_ref().map(|action| action.reference.to_string()),
        "predecessors": task.plan.predecessors,
        "assignee": defined.and_then(|defined| defined.assignee.as_deref()),
        "auto_start": task.plan.auto_start,
        "fixed_start": task.plan.fixed_start,
        "stage": state.stage(),
        "integration_status": state.integration_status(),
        "failure_reason": state.failure().map(ToString::to_string),
        "waiting_reason": state.waiting().map(ToString::to_string),
        "fire": state.fire().0,
        "custom_fields": state.custom_fields(),
        "required_fields": task.plan.required_fields,
        "missing_fields": view.state.missing_required_fields(&task.plan.id).unwrap_or_default(),
        "skip_comment": state.skip_comment(),
        "started_at": state.started_at(),
        "ended_at": state.ended_at(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_core::model::SecretValue;

    #[test]
    fn every_auth_secret_is_masked() {
        let cases = [
            json!({"type": "token", "token": "t-secret"}),
            json!({"type": "basic", "username": "u", "password": "p-secret"}),
            json!({"type": "api_key", "in": "header", "name": "X-Key", "value": "k-secret"}),
            json!({"type": "oauth2", "grant": "client_credentials", "client_id": "c", "client_secret": "c-secret",
                   "provider_host": "https://idp.example", "token_endpoint": "/token"}),
        ];
        for auth in cases {
            let action: Action = serde_json::from_value(json!({
                "name": "A", "auth": auth, "request": {"method": "GET", "url": "https://example.com"}
            }))
            .expect("action");
            let shown = action_body(ActionId(1), &action).to_string();
            assert!(!shown.contains("-secret"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
    }

    #[test]
    fn secret_parameters_show_no_value() {
        let secret = SystemParameter { name: "s".into(), value: SecretValue::new("hidden"), secret: true };
        let plain = SystemParameter { name: "p".into(), value: SecretValue::new("shown"), secret: false };
        assert_eq!(system_parameter(&secret), json!({"name": "s", "secret": true, "value": null}));
        assert_eq!(system_parameter(&plain), json!({"name": "p", "secret": false, "value": "shown"}));
    }
}
