//! From stored definitions and runbook state to what the executor needs: the template context of a fire and a
//! [`RequestRenderer`] over the template crate.

use cutover_integrations_http::{OutgoingRequest, RequestPurpose, RequestRenderer};
use cutover_integrations_model::{Action, Runbook, SystemParameter};
use cutover_integrations_runbook::{RunbookState, TaskView};
use cutover_integrations_template::{RequestTemplate, Template, TemplateContext, TemplatePlace};
use serde_json::{Map, Value, json};

/// The compiled templates of one action: its request, its polling request and its cancel message.
pub(crate) struct ActionTemplates {
    request: RequestTemplate,
    polling: Option<RequestTemplate>,
    cancel: Option<RequestTemplate>,
}

impl ActionTemplates {
    /// Compiles every template of `action`; the error names the template and its position.
    pub(crate) fn compile(action: &Action) -> Result<Self, String> {
        let request = RequestTemplate::compile(&action.request).map_err(|error| error.to_string())?;
        let polling = action
            .polling
            .as_ref()
            .map(|spec| RequestTemplate::from_parts(spec.into()))
            .transpose()
            .map_err(|error| format!("polling: {error}"))?;
        let cancel = action
            .settings
            .notify_webhook_on_cancel
            .as_ref()
            .map(|webhook| RequestTemplate::from_parts(webhook.into()))
            .transpose()
            .map_err(|error| format!("notify_webhook_on_cancel: {error}"))?;
        Ok(Self { request, polling, cancel })
    }
}

impl RequestRenderer for ActionTemplates {
    fn render(&self, purpose: RequestPurpose, context: &Value) -> Result<OutgoingRequest, String> {
        let template = match purpose {
            RequestPurpose::Initial => &self.request,
            RequestPurpose::Poll => self.polling.as_ref().ok_or("the action has no polling request")?,
            RequestPurpose::CancelNotice => self.cancel.as_ref().ok_or("the action has no cancel webhook")?,
        };
        let rendered = template.render(&TemplateContext::new(context.clone())).map_err(|error| error.to_string())?;
        Ok(OutgoingRequest {
            method: rendered.method,
            url: rendered.url,
            headers: rendered.headers,
            body: rendered.body,
        })
    }
}

/// The template roots of a fire of `task`: `CustomField` (the task's values over the runbook's), `Task`, `Runbook`
/// and `SystemParameter`.
pub(crate) fn fire_values(
    runbook_id: i64,
    state: &RunbookState,
    task: &TaskView<'_>,
    definition: &Runbook,
    parameters: &[SystemParameter],
) -> Value {
    let defined = definition.tasks.iter().find(|defined| defined.id == task.plan.id);
    let mut fields = Map::new();
    if let Some(effective) = state.effective_custom_fields(&task.plan.id) {
        for (name, value) in effective {
            fields.insert(name.to_owned(), serde_json::to_value(value).unwrap_or(Value::Null));
        }
    }
    let parameters: Map<String, Value> =
        parameters.iter().map(|p| (p.name.clone(), Value::String(p.value.expose().to_owned()))).collect();
    json!({
        "CustomField": fields,
        "Task": {
            "id": task.plan.id,
            "name": task.plan.name,
            "description": defined.and_then(|task| task.description.as_deref()),
            "stage": task.state.stage(),
            "fire": task.state.fire().0,
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
        "SystemParameter": parameters,
    })
}

/// Renders a secret-bearing auth value that may reference system parameters (`{{SystemParameter['token']}}`).
pub(crate) fn render_secret(value: &str, parameters: &Value) -> Result<String, String> {
    if !value.contains("{{") {
        return Ok(value.to_owned());
    }
    let template = Template::compile(value, TemplatePlace::Text).map_err(|error| error.to_string())?;
    template.render(&TemplateContext::new(json!({ "SystemParameter": parameters }))).map_err(|error| error.to_string())
}
