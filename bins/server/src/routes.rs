//! The route table: every route of the API with its method, path, who may call it and what the OpenAPI document says
//! about it. [`router`] is built from it, and so is `/openapi.json`.

use crate::access::{self, Access, Guard, READ};
use crate::error::ApiError;
use crate::handlers::{
    callbacks, catalog, definitions, events, integrations, oauth, runbooks, settings, system, tasks, users,
};
use crate::{AppState, BODY_LIMIT};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::{MethodRouter, delete, get, patch, post};

/// Every route is under this prefix.
pub const API_PREFIX: &str = "/api/v1";

/// What a route takes as its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Nothing.
    None,
    /// JSON of the named schema.
    Json(&'static str),
    /// JSON of the named schema, or nothing (every field is optional).
    OptionalJson(&'static str),
    /// A definition file: YAML, or JSON with a JSON content type or a `.json` `?file=` name.
    Definition,
}

/// One route.
#[derive(Debug)]
pub struct Route {
    /// The HTTP method.
    pub method: Method,
    /// The path under [`API_PREFIX`], with `{name}` parameters.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The OpenAPI operation id.
    pub operation: &'static str,
    /// What it does, in a line.
    pub summary: &'static str,
    /// Its body.
    pub body: Body,
    /// The status of a successful answer.
    pub success: u16,
    /// The schema of a successful answer, if it is JSON.
    pub response: Option<&'static str>,
    /// The error statuses it may answer with, besides 401 and 403 (implied by its access).
    pub errors: &'static [u16],
    handler: fn() -> MethodRouter<AppState>,
}

impl Route {
    /// The full path, with the prefix.
    pub fn full_path(&self) -> String {
        format!("{API_PREFIX}{}", self.path)
    }
}

const E_READ: &[u16] = &[404];
const E_COMMAND: &[u16] = &[400, 404, 409, 422];
const E_CREATE: &[u16] = &[400, 409, 422];
/// A conditional write (`If-Match`): 412 when the resource moved on.
const E_WRITE_IF: &[u16] = &[400, 404, 412, 422];
const E_COMMAND_IF: &[u16] = &[400, 404, 409, 412, 422];

/// Every route of the API.
pub static ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/users",
        access: access::ADMIN,
        operation: "createUser",
        summary: "Create a user; the answer holds its API token, shown this once",
        body: Body::Json("NewUser"),
        success: 201,
        response: Some("CreatedUser"),
        errors: E_CREATE,
        handler: || post(users::create),
    },
    Route {
        method: Method::GET,
        path: "/users",
        access: access::ADMIN,
        operation: "listUsers",
        summary: "List users (without tokens)",
        body: Body::None,
        success: 200,
        response: Some("Users"),
        errors: &[],
        handler: || get(users::list),
    },
    Route {
        method: Method::POST,
        path: "/definitions",
        access: access::DEFINITIONS,
        operation: "applyDefinition",
        summary: "Apply a definition file: an integration (created or updated) or a runbook (created)",
        body: Body::Definition,
        success: 200,
        response: Some("AppliedDefinitions"),
        errors: E_CREATE,
        handler: || post(definitions::apply),
    },
    Route {
        method: Method::GET,
        path: "/integrations",
        access: READ,
        operation: "listIntegrations",
        summary: "List integrations with their actions (secrets masked)",
        body: Body::None,
        success: 200,
        response: Some("Integrations"),
        errors: &[],
        handler: || get(integrations::list),
    },
    Route {
        method: Method::GET,
        path: "/integrations/{id}",
        access: READ,
        operation: "getIntegration",
        summary: "Read an integration",
        body: Body::None,
        success: 200,
        response: Some("Integration"),
        errors: E_READ,
        handler: || get(integrations::get),
    },
    Route {
        method: Method::PATCH,
        path: "/integrations/{id}",
        access: access::INTEGRATIONS,
        operation: "editIntegration",
        summary: "Rename an integration (while no runbook uses it), change its image URL or archived flag",
        body: Body::Json("IntegrationPatch"),
        success: 200,
        response: Some("Integration"),
        errors: E_WRITE_IF,
        handler: || patch(integrations::patch),
    },
    Route {
        method: Method::DELETE,
        path: "/integrations/{id}",
        access: access::INTEGRATIONS,
        operation: "archiveIntegration",
        summary: "Archive an integration (its history stays; its actions no longer fire)",
        body: Body::None,
        success: 200,
        response: Some("Integration"),
        errors: &[404, 412],
        handler: || delete(integrations::archive),
    },
    Route {
        method: Method::POST,
        path: "/integrations/{id}/actions",
        access: access::INTEGRATIONS,
        operation: "addAction",
        summary: "Add an action (an action definition as JSON) to an integration",
        body: Body::Json("Action"),
        success: 201,
        response: Some("Action"),
        errors: &[400, 404, 409, 422],
        handler: || post(integrations::add_action),
    },
    Route {
        method: Method::GET,
        path: "/actions/{id}",
        access: READ,
        operation: "getAction",
        summary: "Read an action (secrets masked)",
        body: Body::None,
        success: 200,
        response: Some("Action"),
        errors: E_READ,
        handler: || get(integrations::get_action),
    },
    Route {
        method: Method::PATCH,
        path: "/actions/{id}",
        access: access::INTEGRATIONS,
        operation: "editAction",
        summary: "Edit an action with a JSON merge patch; `[REDACTED]` keeps a stored secret; trigger and visibility are fixed",
        body: Body::Json("Action"),
        success: 200,
        response: Some("Action"),
        errors: &[400, 404, 409, 412, 422],
        handler: || patch(integrations::patch_action),
    },
    Route {
        method: Method::GET,
        path: "/custom-fields",
        access: READ,
        operation: "listCustomFields",
        summary: "List custom fields",
        body: Body::None,
        success: 200,
        response: Some("CustomFields"),
        errors: &[],
        handler: || get(settings::list_custom_fields),
    },
    Route {
        method: Method::POST,
        path: "/custom-fields",
        access: access::CUSTOM_FIELDS,
        operation: "createCustomField",
        summary: "Create a custom field",
        body: Body::Json("CustomField"),
        success: 201,
        response: Some("CustomField"),
        errors: E_CREATE,
        handler: || post(settings::create_custom_field),
    },
    Route {
        method: Method::GET,
        path: "/catalog",
        access: READ,
        operation: "listCatalogEntries",
        summary: "List the catalog of predefined integrations: each entry's actions, custom fields and settings",
        body: Body::None,
        success: 200,
        response: Some("CatalogEntries"),
        errors: &[],
        handler: || get(catalog::list_entries),
    },
    Route {
        method: Method::POST,
        path: "/catalog/{name}/install",
        access: access::ADMIN,
        operation: "installCatalogEntry",
        summary: "Install a catalog entry with its settings: a predefined integration, secret settings as secret system parameters",
        body: Body::Json("CatalogInstall"),
        success: 201,
        response: Some("CatalogInstalled"),
        errors: &[400, 404, 422],
        handler: || post(catalog::install_entry),
    },
    Route {
        method: Method::GET,
        path: "/system-parameters",
        access: READ,
        operation: "listSystemParameters",
        summary: "List system parameters; secret ones without their value",
        body: Body::None,
        success: 200,
        response: Some("SystemParameters"),
        errors: &[],
        handler: || get(settings::list_system_parameters),
    },
    Route {
        method: Method::POST,
        path: "/system-parameters",
        access: access::INTEGRATIONS,
        operation: "putSystemParameter",
        summary: "Create (201) or replace (200) a system parameter; its value is encrypted at rest",
        body: Body::Json("NewSystemParameter"),
        success: 201,
        response: Some("SystemParameter"),
        errors: &[400, 422],
        handler: || post(settings::put_system_parameter),
    },
    Route {
        method: Method::POST,
        path: "/runbooks",
        access: access::RUNBOOKS,
        operation: "createRunbook",
        summary: "Create a runbook from a runbook definition (YAML or JSON body)",
        body: Body::Definition,
        success: 201,
        response: Some("Runbook"),
        errors: &[400, 422],
        handler: || post(runbooks::create),
    },
    Route {
        method: Method::GET,
        path: "/runbooks",
        access: READ,
        operation: "listRunbooks",
        summary: "List runbooks with their stage and mode",
        body: Body::None,
        success: 200,
        response: Some("RunbookSummaries"),
        errors: &[],
        handler: || get(runbooks::list),
    },
    Route {
        method: Method::GET,
        path: "/runbooks/{id}",
        access: READ,
        operation: "getRunbook",
        summary: "Read a runbook with its tasks",
        body: Body::None,
        success: 200,
        response: Some("Runbook"),
        errors: E_READ,
        handler: || get(runbooks::get),
    },
    Route {
        method: Method::PATCH,
        path: "/runbooks/{id}",
        access: access::RUNBOOKS,
        operation: "setRunbookCustomFields",
        summary: "Set runbook-level custom field values",
        body: Body::Json("CustomFieldValues"),
        success: 200,
        response: Some("Runbook"),
        errors: E_COMMAND_IF,
        handler: || patch(runbooks::set_fields),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/start",
        access: access::RUNBOOKS,
        operation: "startRunbook",
        summary: "Start a run in rehearsal or live mode",
        body: Body::Json("StartRunbook"),
        success: 200,
        response: Some("Runbook"),
        errors: E_COMMAND,
        handler: || post(runbooks::start),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/pause",
        access: access::RUNBOOKS,
        operation: "pauseRunbook",
        summary: "Pause an active run",
        body: Body::None,
        success: 200,
        response: Some("Runbook"),
        errors: E_COMMAND,
        handler: || post(runbooks::pause),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/resume",
        access: access::RUNBOOKS,
        operation: "resumeRunbook",
        summary: "Resume a paused run",
        body: Body::None,
        success: 200,
        response: Some("Runbook"),
        errors: E_COMMAND,
        handler: || post(runbooks::resume),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/cancel",
        access: access::RUNBOOKS,
        operation: "cancelRunbook",
        summary: "Cancel a runbook and every fire under way",
        body: Body::None,
        success: 200,
        response: Some("Runbook"),
        errors: E_COMMAND,
        handler: || post(runbooks::cancel),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/duplicate",
        access: access::RUNBOOKS,
        operation: "duplicateRunbook",
        summary: "Copy a runbook into a new one in planning, without transient custom field values",
        body: Body::None,
        success: 201,
        response: Some("Runbook"),
        errors: E_READ,
        handler: || post(runbooks::duplicate),
    },
    Route {
        method: Method::GET,
        path: "/runbooks/{id}/tasks",
        access: READ,
        operation: "listTasks",
        summary: "List a runbook's tasks",
        body: Body::None,
        success: 200,
        response: Some("Tasks"),
        errors: E_READ,
        handler: || get(tasks::list),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks",
        access: access::RUNBOOKS,
        operation: "addTask",
        summary: "Add a task to a runbook in planning (checked as a definition file; an id is made from the name if absent)",
        body: Body::Json("TaskDefinition"),
        success: 201,
        response: Some("Task"),
        errors: E_COMMAND,
        handler: || post(tasks::add),
    },
    Route {
        method: Method::PATCH,
        path: "/runbooks/{id}/tasks/{task}/definition",
        access: access::RUNBOOKS,
        operation: "editTask",
        summary: "Change a task of a runbook in planning (a JSON merge patch of its definition; the id cannot change)",
        body: Body::Json("TaskDefinitionPatch"),
        success: 200,
        response: Some("Task"),
        errors: E_COMMAND_IF,
        handler: || patch(tasks::edit),
    },
    Route {
        method: Method::DELETE,
        path: "/runbooks/{id}/tasks/{task}",
        access: access::RUNBOOKS,
        operation: "removeTask",
        summary: "Remove a task of a runbook in planning; 409 task_in_use while other tasks list it as a predecessor",
        body: Body::None,
        success: 204,
        response: None,
        errors: E_COMMAND_IF,
        handler: || delete(tasks::remove),
    },
    Route {
        method: Method::GET,
        path: "/runbooks/{id}/tasks/{task}",
        access: READ,
        operation: "getTask",
        summary: "Read a task (by its definition id)",
        body: Body::None,
        success: 200,
        response: Some("Task"),
        errors: E_READ,
        handler: || get(tasks::get),
    },
    Route {
        method: Method::PATCH,
        path: "/runbooks/{id}/tasks/{task}",
        access: access::TASKS,
        operation: "setTaskCustomFields",
        summary: "Set a task's custom field values",
        body: Body::Json("CustomFieldValues"),
        success: 200,
        response: Some("Task"),
        errors: E_COMMAND_IF,
        handler: || patch(tasks::set_fields),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks/{task}/start",
        access: access::TASKS,
        operation: "startTask",
        summary: "Start a task, firing its action; `force` overrides a fixed start time (runbook admins)",
        body: Body::OptionalJson("StartTask"),
        success: 200,
        response: Some("Task"),
        errors: E_COMMAND,
        handler: || post(tasks::start),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks/{task}/finish",
        access: access::TASKS,
        operation: "finishTask",
        summary: "Finish a task in progress",
        body: Body::None,
        success: 200,
        response: Some("Task"),
        errors: E_COMMAND,
        handler: || post(tasks::finish),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks/{task}/skip",
        access: access::RUNBOOKS,
        operation: "skipTask",
        summary: "Skip a task, with a comment",
        body: Body::Json("SkipTask"),
        success: 200,
        response: Some("Task"),
        errors: E_COMMAND,
        handler: || post(tasks::skip),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks/{task}/cancel",
        access: access::TASKS,
        operation: "cancelTask",
        summary: "Cancel the task's fire under way (cancelable actions)",
        body: Body::None,
        success: 200,
        response: Some("Task"),
        errors: E_COMMAND,
        handler: || post(tasks::cancel),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks/{task}/refire",
        access: access::TASKS,
        operation: "refireTask",
        summary: "Fire the task's action again after a failed or cancelled fire",
        body: Body::None,
        success: 200,
        response: Some("Task"),
        errors: E_COMMAND,
        handler: || post(tasks::refire),
    },
    Route {
        method: Method::GET,
        path: "/runbooks/{id}/tasks/{task}/actions-log",
        access: READ,
        operation: "getActionsLog",
        summary: "The task's fires with their attempts: redacted requests and responses, a curl line per request",
        body: Body::None,
        success: 200,
        response: Some("ActionsLog"),
        errors: E_READ,
        handler: || get(tasks::actions_log),
    },
    Route {
        method: Method::GET,
        path: "/oauth/authorize",
        access: access::OAUTH,
        operation: "authorizeAction",
        summary: "Redirect (302) to the provider: ?action=ID for the functional user, &runbook=ID&task=ID for a task user",
        body: Body::None,
        success: 302,
        response: None,
        errors: &[404, 422],
        handler: || get(oauth::authorize),
    },
    Route {
        method: Method::GET,
        path: "/oauth/callback",
        access: Access::Public,
        operation: "oauthCallback",
        summary: "The provider's redirect back: exchanges the code (PKCE) and stores the token",
        body: Body::None,
        success: 200,
        response: Some("OAuthResult"),
        errors: &[400, 404, 409, 422, 502],
        handler: || get(oauth::callback),
    },
    Route {
        method: Method::POST,
        path: "/callbacks/{fire}",
        access: Access::CallbackToken,
        operation: "completeCallback",
        summary: "Complete a callback fire: `Authorization: Bearer <Callback.token>`; repeats are idempotent",
        body: Body::Json("CallbackReport"),
        success: 200,
        response: Some("CallbackResult"),
        errors: &[400, 401, 404, 409, 422],
        handler: || post(callbacks::complete),
    },
    Route {
        method: Method::GET,
        path: "/events",
        access: READ,
        operation: "streamEvents",
        summary: "Server-sent events of runbook and task changes; ?runbook=ID to follow one runbook",
        body: Body::None,
        success: 200,
        response: None,
        errors: &[404, 422],
        handler: || get(events::stream),
    },
    Route {
        method: Method::GET,
        path: "/healthz",
        access: Access::Public,
        operation: "health",
        summary: "Health: ok when the database answers",
        body: Body::None,
        success: 200,
        response: Some("Health"),
        errors: &[503],
        handler: || get(system::healthz),
    },
    Route {
        method: Method::GET,
        path: "/metrics",
        access: Access::Public,
        operation: "metrics",
        summary: "Prometheus metrics: fires by outcome, attempt latency, queue depth",
        body: Body::None,
        success: 200,
        response: None,
        errors: &[],
        handler: || get(system::metrics),
    },
    Route {
        method: Method::GET,
        path: "/openapi.json",
        access: Access::Public,
        operation: "openapi",
        summary: "This API's OpenAPI document",
        body: Body::None,
        success: 200,
        response: None,
        errors: &[],
        handler: || get(system::openapi),
    },
    Route {
        method: Method::GET,
        path: "/schema/definition.json",
        access: Access::Public,
        operation: "definitionSchema",
        summary: "The JSON Schema of definition files (integrations and runbooks), for editors",
        body: Body::None,
        success: 200,
        response: None,
        errors: &[],
        handler: || get(system::definition_schema),
    },
];

/// The application: every route of [`ROUTES`] under [`API_PREFIX`], each behind its access check, with bounded
/// bodies, JSON errors for unknown paths and methods, and a log line per request.
pub fn router(state: AppState) -> Router {
    let mut api = Router::new();
    for route in ROUTES {
        let guard = Guard { state: state.clone(), access: route.access };
        let method_router = (route.handler)().route_layer(middleware::from_fn_with_state(guard, access::require));
        api = api.route(route.path, method_router);
    }
    Router::new()
        .nest(API_PREFIX, api)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.metrics.clone(), crate::metrics::track_requests))
        .layer(middleware::from_fn(crate::log_requests))
        .with_state(state)
}

async fn unknown_route(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no route `{}`", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("`{method} {}` is not a route", uri.path()),
    )
}
