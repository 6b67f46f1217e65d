//! From stored definitions and runbook state to the template values of a fire.

use cutover_integrations_auth::AuthConfig;
use cutover_integrations_http::OutboundPolicy;
use cutover_integrations_model::{AuthSettings, Runbook, SystemParameter, Task};
use cutover_integrations_runbook::{RunbookState, TaskView};
use cutover_integrations_template::{Template, TemplateContext, TemplatePlace};
use serde_json::{Map, Value, json};

/// The template roots of a fire of `task` that come from its runbook: `CustomField` (the task's values over the
/// runbook's), `Task` and `Runbook`. ([`with_parameters`] adds `SystemParameter` when the fire steps.)
pub(crate) fn fire_values(runbook_id: i64, state: &RunbookState, task: &TaskView<'_>, definition: &Runbook) -> Value {
    let defined = defined_task(definition, state, &task.plan.id);
    let mut fields = Map::new();
    if let Some(effective) = state.effective_custom_fields(&task.plan.id) {
        for (name, value) in effective {
            fields.insert(name.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        }
    }
    json!({
        "CustomField": fields,
        "Task": {
            "id": task.plan.id,
            "name": task.plan.name,
            "description": defined.and_then(|task| task.description.as_deref()),
            "stage": task.state.stage(),
            "fire": task.state.fire_count(),
            "duration_seconds": defined.and_then(|task| task.duration_seconds),
            "assignee": defined.and_then(|task| task.assignee.as_deref()).map(|email| json!({ "email": email })),
        },
        "Runbook": {
            "id": runbook_id,
            "name": state.plan().name(),
            "stage": state.stage(),
            "mode": state.mode(),
            "workspace": definition.workspace,
        },
    })
}

/// `values` (from [`fire_values`]) with the `SystemParameter` root.
pub(crate) fn with_parameters(mut values: Value, parameters: &[SystemParameter]) -> Value {
    let parameters: Map<String, Value> =
        parameters.iter().map(|p| (p.name.clone(), Value::String(p.value.expose().to_owned()))).collect();
    if let Value::Object(roots) = &mut values {
        roots.insert("SystemParameter".to_owned(), Value::Object(parameters));
    }
    values
}

/// A task as defined, found by its position in the plan (the definition's order) rather than by a scan, so that a fire
/// of a runbook of 100,000 tasks costs what one of 10 does.
pub(crate) fn defined_task<'a>(definition: &'a Runbook, state: &RunbookState, id: &str) -> Option<&'a Task> {
    let by_position = state.plan().index_of(id).and_then(|position| definition.tasks.get(position as usize));
    match by_position {
        Some(task) if task.id == id => Some(task),
        _ => definition.tasks.iter().find(|task| task.id == id),
    }
}

/// Renders a secret-bearing auth value that may reference system parameters (`{{SystemParameter['token']}}`).
pub(crate) fn render_secret(value: &str, parameters: &Value) -> Result<String, String> {
    if !value.contains("{{") {
        return Ok(value.to_owned());
    }
    let template = Template::compile(value, TemplatePlace::Text).map_err(|error| error.to_string())?;
    template.render(&TemplateContext::new(json!({ "SystemParameter": parameters }))).map_err(|error| error.to_string())
}

/// Resolves an action's auth settings as a fire uses them: secret values that reference system parameters are
/// rendered, and an OAuth token endpoint is checked against the outbound guard. The guarded client checks names when
/// they resolve, but cannot see a literal address in a first request's URL, so a literal private token endpoint is
/// refused here, once for every token request made with the config (exchange, refresh, client credentials).
pub(crate) fn resolve_auth(
    settings: &AuthSettings,
    parameters: &Value,
    outbound: &OutboundPolicy,
) -> Result<AuthConfig, AuthResolutionError> {
    let config = AuthConfig::resolve(settings, |secret| {
        render_secret(secret.expose(), parameters).map(secrecy::SecretString::from)
    })
    .map_err(|error| AuthResolutionError::Auth(Box::new(error)))?;
    if let AuthConfig::OAuth2(oauth) = &config {
        outbound.check_url(&oauth.token_url).map_err(|refusal| AuthResolutionError::Refused {
            reason: format!("token endpoint {}: {refusal}", oauth.token_url),
        })?;
    }
    Ok(config)
}

/// Why an action's auth settings could not be resolved.
pub(crate) enum AuthResolutionError {
    /// A secret did not render, or the settings are invalid.
    Auth(Box<cutover_integrations_auth::AuthError>),
    /// The OAuth token endpoint is an address the outbound guard refuses.
    Refused { reason: String },
}
