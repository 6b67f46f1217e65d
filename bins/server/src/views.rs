//! The JSON the API answers with, as types: each answer is a struct that serializes to what the client reads and
//! derives its JSON Schema, which `/openapi.json` publishes (`src/openapi.rs`), so the document and the answers cannot
//! drift apart. Secrets never appear: action auth secrets are `[REDACTED]`, secret system parameters have
//! `"value": null`, API tokens are shown once, at user creation.

use cutover_integrations_core::REDACTED;
use cutover_integrations_core::model::{
    Action, CustomField, FieldValue, IntegrationKind, IntegrationStatus, Role, RunMode, RunbookStage, SystemParameter,
    Task, TaskStage,
};
use cutover_integrations_core::runbook::TaskView;
use cutover_integrations_core::store::{
    ActionId, ActionRecord, EventIntegrationRecord, IntegrationRecord, RunbookListing, User,
};
use cutover_integrations_core::{
    AppliedDefinitions, DeliveryView, FireLogView, FireOutcome, OAuthStatus, RunbookView, TaskSnapshot,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// A page of a list: its items, and the cursor of the next page (`null` on the last page).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "{T}Page")]
pub(crate) struct Page<T> {
    /// The items of this page, in the list's order.
    pub(crate) items: Vec<T>,
    /// Pass as `?cursor=` for the next page; `null` when this page is the last.
    pub(crate) next_cursor: Option<String>,
}

/// A user, without any token.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct UserView {
    /// Its id.
    pub(crate) id: i64,
    /// Its display name.
    pub(crate) name: String,
    /// Its email address (unique).
    pub(crate) email: String,
    /// Its roles.
    pub(crate) roles: Vec<Role>,
}

/// A user just created, with its API token, shown this once.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CreatedUser {
    /// The user.
    #[serde(flatten)]
    pub(crate) user: UserView,
    /// The API token (`Authorization: Bearer TOKEN`); only its hash is stored, it is never shown again.
    pub(crate) token: String,
}

/// A user, without any token.
pub(crate) fn user(user: &User) -> UserView {
    UserView { id: user.id.0, name: user.name.clone(), email: user.email.clone(), roles: user.roles.clone() }
}

/// What applying a definition file changed.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AppliedView {
    /// Per integration applied.
    pub(crate) integrations: Vec<AppliedIntegration>,
    /// The ids of the runbooks created.
    pub(crate) runbooks: Vec<i64>,
    /// The ids of the event integrations created or updated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) event_integrations: Vec<i64>,
}

/// What applying one integration changed.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct AppliedIntegration {
    /// The integration's id.
    pub(crate) integration_id: i64,
    /// Whether it was created (false: updated).
    pub(crate) created: bool,
    /// Actions created, by name.
    pub(crate) actions_created: Vec<String>,
    /// Actions updated, by name.
    pub(crate) actions_updated: Vec<String>,
    /// Custom fields created or replaced, by name.
    pub(crate) custom_fields: Vec<String>,
}

/// What applying definitions changed.
pub(crate) fn applied(applied: &AppliedDefinitions) -> AppliedView {
    AppliedView {
        integrations: applied
            .integrations
            .iter()
            .map(|one| AppliedIntegration {
                integration_id: one.integration_id.0,
                created: one.created,
                actions_created: one.actions_created.clone(),
                actions_updated: one.actions_updated.clone(),
                custom_fields: one.custom_fields.clone(),
            })
            .collect(),
        runbooks: applied.runbooks.iter().map(|id| id.0).collect(),
        event_integrations: applied.event_integrations.iter().map(|id| id.0).collect(),
    }
}

/// An integration with its actions (secrets masked).
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct IntegrationView {
    /// Its id.
    pub(crate) id: i64,
    /// Its name (unique).
    pub(crate) name: String,
    /// Built here (`custom`) or from the catalog (`predefined`).
    #[serde(rename = "type")]
    pub(crate) kind: IntegrationKind,
    /// Its icon.
    pub(crate) image_url: Option<String>,
    /// Archived integrations keep their history; their actions no longer fire.
    pub(crate) archived: bool,
    /// The custom fields it declares.
    pub(crate) custom_fields: Vec<CustomField>,
    /// Its actions, auth secrets as `[REDACTED]`.
    pub(crate) actions: Vec<ActionView>,
}

/// An action: its id, its definition (as in definition files, auth secrets as `[REDACTED]`), and, when read on its
/// own, its integration and, for an OAuth functional-user action, where its token stands.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ActionView {
    /// Its id.
    pub(crate) id: i64,
    /// Its integration's id (single actions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) integration_id: Option<i64>,
    /// Its integration's name (single actions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) integration: Option<String>,
    /// Whether its integration is archived (single actions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) archived: Option<bool>,
    /// Where an OAuth functional-user action's token stands (`GET /actions/{id}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) oauth: Option<OAuthStatusView>,
    /// The definition; `request` absent means a draft, which no task may use.
    #[serde(flatten)]
    pub(crate) definition: Action,
}

/// An integration with its actions (secrets masked).
pub(crate) fn integration(record: &IntegrationRecord) -> IntegrationView {
    let integration = &record.integration;
    IntegrationView {
        id: record.id.0,
        name: integration.name.clone(),
        kind: integration.integration_kind,
        image_url: integration.image_url.clone(),
        archived: integration.archived,
        custom_fields: integration.custom_fields.clone(),
        actions: integration
            .actions
            .iter()
            .zip(&record.action_ids)
            .map(|(action, id)| action_body(*id, action))
            .collect(),
    }
}

/// A stored action with its integration (secrets masked).
pub(crate) fn action(record: &ActionRecord) -> ActionView {
    ActionView {
        integration_id: Some(record.integration_id.0),
        integration: Some(record.integration_name.clone()),
        archived: Some(record.archived),
        ..action_body(record.id, &record.action)
    }
}

/// An action's definition with every auth secret replaced by `[REDACTED]`.
fn action_body(id: ActionId, action: &Action) -> ActionView {
    let mut definition = action.clone();
    definition.auth = action.auth.with_secrets_replaced(REDACTED);
    ActionView { id: id.0, integration_id: None, integration: None, archived: None, oauth: None, definition }
}

/// Where an OAuth action's functional-user token stands (never the token).
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub(crate) enum OAuthStatusView {
    /// Nobody has authorized the action yet.
    NotAuthorized,
    /// A token is stored.
    Authorized {
        /// When it was obtained (RFC 3339).
        obtained_at: String,
        /// When it expires, if the provider said.
        expires_at: Option<String>,
        /// Who authorized it in a browser, if known.
        authenticated_by: Option<String>,
        /// When they did, if known.
        authenticated_at: Option<String>,
    },
    /// The token could not be refreshed: someone must authorize again.
    NeedsReauthentication {
        /// Why.
        reason: String,
        /// Since when (RFC 3339).
        since: String,
    },
}

/// Where an OAuth action's functional-user token stands.
pub(crate) fn oauth_status(status: &OAuthStatus) -> OAuthStatusView {
    match status {
        OAuthStatus::NotAuthorized => OAuthStatusView::NotAuthorized,
        OAuthStatus::Authorized { obtained_at, expires_at, authorized } => OAuthStatusView::Authorized {
            obtained_at: obtained_at.to_string(),
            expires_at: expires_at.map(|at| at.to_string()),
            authenticated_by: authorized.as_ref().map(|authorizer| authorizer.user.clone()),
            authenticated_at: authorized.as_ref().map(|authorizer| authorizer.at.to_string()),
        },
        OAuthStatus::NeedsReauthentication { reason, since } => {
            OAuthStatusView::NeedsReauthentication { reason: reason.clone(), since: since.to_string() }
        }
    }
}

/// A system parameter; a secret one shows no value.
#[derive(Debug, PartialEq, Serialize, JsonSchema)]
pub(crate) struct SystemParameterView {
    /// Its name (templates read it as `{{ System.NAME }}`).
    pub(crate) name: String,
    /// Whether it is secret.
    pub(crate) secret: bool,
    /// Its value; `null` for a secret parameter.
    pub(crate) value: Option<String>,
}

/// A system parameter; a secret one shows no value.
pub(crate) fn system_parameter(parameter: &SystemParameter) -> SystemParameterView {
    SystemParameterView {
        name: parameter.name.clone(),
        secret: parameter.secret,
        value: (!parameter.secret).then(|| parameter.value.expose().to_owned()),
    }
}

/// A runbook in a list.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RunbookSummary {
    /// Its id.
    pub(crate) id: i64,
    /// Its name.
    pub(crate) name: String,
    /// Its workspace, if its definition names one.
    pub(crate) workspace: Option<String>,
    /// Its stage.
    pub(crate) stage: RunbookStage,
    /// Its mode, once started.
    pub(crate) mode: Option<RunMode>,
}

/// A runbook in a list: id, name, workspace, stage, mode.
pub(crate) fn runbook_listing(listing: &RunbookListing) -> RunbookSummary {
    RunbookSummary {
        id: listing.id.0,
        name: listing.name.clone(),
        workspace: listing.workspace.clone(),
        stage: listing.stage,
        mode: listing.mode,
    }
}

/// A runbook with every task.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct RunbookBody {
    /// Its id.
    pub(crate) id: i64,
    /// Its name.
    pub(crate) name: String,
    /// Its workspace, if its definition names one.
    pub(crate) workspace: Option<String>,
    /// Its description.
    pub(crate) description: Option<String>,
    /// Its stage.
    pub(crate) stage: RunbookStage,
    /// Its mode, once started.
    pub(crate) mode: Option<RunMode>,
    /// Runbook-level custom field values.
    pub(crate) custom_fields: BTreeMap<String, FieldValue>,
    /// When the run started (RFC 3339).
    pub(crate) started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub(crate) ended_at: Option<String>,
    /// How many tasks are complete or skipped.
    pub(crate) done: usize,
    /// Every task, in definition order.
    pub(crate) tasks: Vec<TaskBody>,
}

/// A runbook with its tasks.
pub(crate) fn runbook(view: &RunbookView) -> RunbookBody {
    RunbookBody {
        id: view.id.0,
        name: view.definition.name.clone(),
        workspace: view.definition.workspace.clone(),
        description: view.definition.description.clone(),
        stage: view.state.stage(),
        mode: view.state.mode(),
        custom_fields: view.state.custom_fields().clone(),
        started_at: view.state.started_at().map(|at| at.to_string()),
        ended_at: view.state.ended_at().map(|at| at.to_string()),
        done: view.state.done_count(),
        tasks: view
            .state
            .tasks()
            .zip(&view.definition.tasks)
            .map(|(task, defined)| {
                let missing = view.state.missing_required_fields(&task.plan.id).unwrap_or_default();
                self::task(Some(defined), task, missing)
            })
            .collect(),
    }
}

/// A task: its plan, stage, integration status with its failure or waiting reason, custom field values.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct TaskBody {
    /// Its definition id (unique in its runbook).
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// Its description.
    pub(crate) description: Option<String>,
    /// `INTEGRATION/ACTION`; `null` for a manual task.
    pub(crate) action: Option<String>,
    /// The ids of the tasks it waits for.
    pub(crate) predecessors: Vec<String>,
    /// Who does it.
    pub(crate) assignee: Option<String>,
    /// Whether it starts by itself once startable.
    pub(crate) auto_start: bool,
    /// Not before this time (RFC 3339).
    pub(crate) fixed_start: Option<String>,
    /// Its stage.
    pub(crate) stage: TaskStage,
    /// What its action's latest fire is doing.
    pub(crate) integration_status: IntegrationStatus,
    /// Why the latest fire failed.
    pub(crate) failure_reason: Option<String>,
    /// What the latest fire waits for.
    pub(crate) waiting_reason: Option<String>,
    /// How many times it fired (0: never).
    pub(crate) fire: u32,
    /// Its custom field values.
    pub(crate) custom_fields: BTreeMap<String, FieldValue>,
    /// The custom fields that must have a value before it starts.
    pub(crate) required_fields: Vec<String>,
    /// Required custom fields still empty.
    pub(crate) missing_fields: Vec<String>,
    /// The comment it was skipped with.
    pub(crate) skip_comment: Option<String>,
    /// When it started (RFC 3339).
    pub(crate) started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub(crate) ended_at: Option<String>,
}

/// A task as one [`TaskSnapshot`] holds it.
pub(crate) fn task_snapshot(snapshot: &TaskSnapshot) -> TaskBody {
    let view = TaskView { plan: &snapshot.plan, state: &snapshot.state };
    task(Some(&snapshot.definition), view, snapshot.missing_fields.clone())
}

/// One task: plan, stage, integration status with its failure or waiting reason, custom field values; from its
/// definition (`None` if it has none: never for a stored runbook), plan, state and missing required fields.
pub(crate) fn task(defined: Option<&Task>, task: TaskView<'_>, missing_fields: Vec<String>) -> TaskBody {
    let state = task.state;
    TaskBody {
        id: task.plan.id.clone(),
        name: task.plan.name.clone(),
        description: defined.and_then(|defined| defined.description.clone()),
        action: task.plan.action.as_ref().map(|action| action.reference.to_string()),
        predecessors: task.plan.predecessors.clone(),
        assignee: defined.and_then(|defined| defined.assignee.clone()),
        auto_start: task.plan.auto_start,
        fixed_start: task.plan.fixed_start.map(|at| at.to_string()),
        stage: state.stage(),
        integration_status: state.integration_status(),
        failure_reason: state.failure().map(ToString::to_string),
        waiting_reason: state.waiting().map(ToString::to_string),
        fire: state.fire_count(),
        custom_fields: state.custom_fields().clone(),
        required_fields: task.plan.required_fields.clone(),
        missing_fields,
        skip_comment: state.skip_comment().map(str::to_owned),
        started_at: state.started_at().map(|at| at.to_string()),
        ended_at: state.ended_at().map(|at| at.to_string()),
    }
}

/// An event integration (secrets masked) with its id and version.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct EventIntegrationView {
    /// Its id.
    pub(crate) id: i64,
    /// Counts its changes (the `ETag`).
    pub(crate) version: i64,
    /// The id of the last event of the log it has routed.
    pub(crate) last_event_id: i64,
    /// The definition, as in its file (without `kind`).
    #[serde(flatten)]
    pub(crate) definition: cutover_integrations_core::model::EventIntegration,
}

pub(crate) fn event_integration(record: &EventIntegrationRecord) -> EventIntegrationView {
    EventIntegrationView {
        id: record.id.0,
        version: record.version,
        last_event_id: record.last_event_id,
        definition: record.definition.clone(),
    }
}

/// The deliveries of a runbook's events: the event part of its actions log.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeliveriesView {
    /// The runbook's id.
    pub(crate) runbook: i64,
    /// Its deliveries, in event order.
    pub(crate) deliveries: Vec<DeliveryLog>,
}

/// One delivery of an event to an event integration, with its attempts.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct DeliveryLog {
    /// The event's id in the event log.
    pub(crate) event_id: i64,
    /// The event type sent, such as `task.started`.
    pub(crate) event_type: String,
    /// The event integration's id.
    pub(crate) event_integration_id: i64,
    /// Its name, unless it was deleted since.
    pub(crate) event_integration: Option<String>,
    /// The task the event concerns, if any.
    pub(crate) task: Option<String>,
    /// The `Idempotency-Key` every attempt carries.
    pub(crate) idempotency_key: String,
    /// `due` (to send or retry) or `done`.
    pub(crate) status: String,
    /// `delivered` or `failed`, once done.
    pub(crate) outcome: Option<String>,
    /// Attempts (request, response, curl line, duration) and notes, in order; secrets were redacted before they were
    /// stored.
    pub(crate) entries: Vec<BTreeMap<String, Value>>,
}

pub(crate) fn deliveries(runbook: i64, deliveries: &[DeliveryView]) -> DeliveriesView {
    let word = |value: Value| value.as_str().unwrap_or_default().to_owned();
    let deliveries = deliveries
        .iter()
        .map(|delivery| DeliveryLog {
            event_id: delivery.event_id,
            event_type: delivery.event_type.as_str().to_owned(),
            event_integration_id: delivery.event_integration_id.0,
            event_integration: delivery.event_integration.clone(),
            task: delivery.task.clone(),
            idempotency_key: delivery.idempotency_key.clone(),
            status: word(serde_json::to_value(delivery.status).unwrap_or_default()),
            outcome: delivery.outcome.map(|outcome| word(serde_json::to_value(outcome).unwrap_or_default())),
            entries: delivery
                .entries
                .iter()
                .map(|entry| match serde_json::to_value(entry) {
                    Ok(Value::Object(object)) => object.into_iter().collect(),
                    _ => BTreeMap::new(),
                })
                .collect(),
        })
        .collect();
    DeliveriesView { runbook, deliveries }
}

/// A task's fires with their attempts.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ActionsLogView {
    /// The runbook's id.
    pub(crate) runbook: i64,
    /// The task's id.
    pub(crate) task: String,
    /// Its fires, oldest first.
    pub(crate) fires: Vec<FireLog>,
}

/// One fire of a task with its log.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct FireLog {
    /// The fire's id (callbacks name it).
    pub(crate) fire_id: i64,
    /// 1 for the first fire, one more per refire.
    pub(crate) number: u32,
    /// The `Idempotency-Key` its requests carry.
    pub(crate) idempotency_key: String,
    /// Where the fire is: `due`, `waiting` (for a callback) or `done`.
    #[schemars(with = "FireStatusDoc")]
    pub(crate) status: Value,
    /// How it ended, once it did (null until then): an action's fire `succeeded`, `failed`, `not_sent` (a rehearsal)
    /// or `cancelled`; a cancel notice `delivered` or `undelivered`.
    #[schemars(schema_with = "fire_outcome_schema")]
    pub(crate) outcome: Option<String>,
    /// Attempts (request, response, curl line, duration) and notes, in the order they were written; secrets were
    /// redacted before they were stored.
    pub(crate) entries: Vec<BTreeMap<String, Value>>,
}

/// Where a fire is.
#[derive(JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum FireStatusDoc {
    /// Due to be sent (first send, retry, next poll).
    Due,
    /// Waiting for a callback.
    Waiting,
    /// Finished.
    Done,
}

/// A fire's outcome in the document: the names of [`FireOutcome`], or null.
fn fire_outcome_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut names: Vec<Value> = FireOutcome::ALL.iter().map(|outcome| Value::from(outcome.as_str())).collect();
    names.push(Value::Null);
    schemars::json_schema!({"type": ["string", "null"], "enum": names})
}

/// A task's fires with their attempts.
pub(crate) fn actions_log(runbook: i64, task: &str, fires: &[FireLogView]) -> ActionsLogView {
    let fires = fires
        .iter()
        .map(|fire| FireLog {
            fire_id: fire.fire_id.0,
            number: fire.number,
            idempotency_key: fire.idempotency_key.clone(),
            status: serde_json::to_value(fire.status).unwrap_or_default(),
            outcome: fire.outcome.map(|outcome| outcome.as_str().to_owned()),
            entries: fire
                .entries
                .iter()
                .map(|entry| match serde_json::to_value(entry) {
                    Ok(Value::Object(object)) => object.into_iter().collect(),
                    _ => BTreeMap::new(),
                })
                .collect(),
        })
        .collect();
    ActionsLogView { runbook, task: task.to_owned(), fires }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_core::model::SecretValue;
    use serde_json::json;

    /// The document types a fire's outcome as one of [`FireOutcome`]'s names (or null before it ends), not any string.
    #[test]
    fn a_fire_outcome_in_the_document_is_one_of_the_outcomes_or_null() {
        let document = crate::openapi::document();
        let outcome = &document["components"]["schemas"]["FireLog"]["properties"]["outcome"];
        let validator = jsonschema::validator_for(outcome).expect("a schema");
        for name in FireOutcome::ALL.map(FireOutcome::as_str) {
            assert!(validator.is_valid(&json!(name)), "{name}");
        }
        assert!(validator.is_valid(&Value::Null));
        for wrong in ["exploded", "Succeeded", "", "not sent"] {
            assert!(!validator.is_valid(&json!(wrong)), "{wrong}");
        }
        assert!(!validator.is_valid(&json!(1)));
    }

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
            let shown = serde_json::to_string(&action_body(ActionId(1), &action)).expect("JSON");
            assert!(!shown.contains("-secret"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
    }

    #[test]
    fn secret_parameters_show_no_value() {
        let secret = SystemParameter { name: "s".into(), value: SecretValue::new("hidden"), secret: true };
        let plain = SystemParameter { name: "p".into(), value: SecretValue::new("shown"), secret: false };
        let shown = |parameter| serde_json::to_value(system_parameter(parameter)).expect("JSON");
        assert_eq!(shown(&secret), json!({"name": "s", "secret": true, "value": null}));
        assert_eq!(shown(&plain), json!({"name": "p", "secret": false, "value": "shown"}));
    }
}
