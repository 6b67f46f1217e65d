//! The route table: every route of the API with its method, path, who may call it and what the OpenAPI document says
//! about it. [`router`] is built from it, and so is `/openapi.json`.

use crate::access::{self, Access, Guard, READ};
use crate::body::MergePatch;
use crate::error::ApiError;
use crate::handlers::{
    callbacks, catalog, definitions, event_integrations, events, integrations, oauth, runbooks, settings, system,
    tasks, users,
};
use crate::views::{self, Page};
use crate::{AppState, paging};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use cutover_integrations_core::model::{Action, CustomField, EventIntegration, Task};
use schemars::{JsonSchema, Schema, SchemaGenerator};

/// Every route is under this prefix.
pub const API_PREFIX: &str = "/api/v1";

/// The JSON Schema of a Rust type as the document's generator makes it: a `$ref` into `components/schemas` for named
/// types. Routes name the types their handlers take and answer with through these, so the document follows the code.
pub type SchemaOf = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T` (see [`SchemaOf`]).
pub(crate) fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What a route takes as its body.
#[derive(Debug, Clone, Copy)]
pub enum Body {
    /// Nothing.
    None,
    /// JSON of the given schema.
    Json(SchemaOf),
    /// JSON of the given schema, or nothing (every field is optional).
    OptionalJson(SchemaOf),
    /// A definition file: YAML, or JSON with a JSON content type or a `.json` `?file=` name; the document shows
    /// `example`.
    Definition {
        /// A valid file for this route.
        example: &'static str,
    },
}

/// What a route answers with when it succeeds.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    /// JSON of the given schema.
    Json(SchemaOf),
    /// JSON of the given schema, or a short HTML page for a browser (`Accept: text/html`).
    JsonOrHtml(SchemaOf),
    /// A single resource: JSON of the given schema with its `ETag`; a GET answers 304 when `If-None-Match` names it.
    Tagged(SchemaOf),
    /// No body (204).
    Empty,
    /// A redirect (302) with a `Location`.
    Redirect,
    /// Server-sent events (`text/event-stream`).
    EventStream,
    /// Prometheus text (`text/plain; version=0.0.4`).
    Metrics,
    /// A JSON document of the given media type (this document, the definition schema).
    Document(&'static str),
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    /// The query string.
    Query,
    /// A header.
    Header,
}

/// A query or header parameter a route reads.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Where it goes.
    pub location: In,
    /// Whether the route refuses to work without it.
    pub required: bool,
    /// What it does.
    pub description: &'static str,
    /// Its schema.
    pub schema: SchemaOf,
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
    /// Other successful statuses, answered with the same schema (`200` when a create finds the resource).
    pub also: &'static [u16],
    /// What a successful answer holds.
    pub answer: Answer,
    /// The query and header parameters it reads (a list's `limit` and `cursor` included).
    pub params: &'static [Param],
    /// The error statuses it may answer with, besides 401 and 403 (implied by its access).
    pub errors: &'static [u16],
    handler: fn() -> MethodRouter<AppState>,
}

impl Route {
    /// The full path, with the prefix.
    pub fn full_path(&self) -> String {
        format!("{API_PREFIX}{}", self.path)
    }

    /// Whether it reads `If-Match` (a conditional write: 412 when stale).
    pub fn conditional(&self) -> bool {
        self.params.iter().any(|param| param.location == In::Header && param.name == "If-Match")
    }
}

const E_READ: &[u16] = &[404];
const E_COMMAND: &[u16] = &[400, 404, 409, 422];
const E_CREATE: &[u16] = &[400, 409, 422];
/// A conditional write (`If-Match`): 412 when the resource moved on, 409 when a new name is taken.
const E_WRITE_IF: &[u16] = &[400, 404, 409, 412, 422];
const E_COMMAND_IF: &[u16] = &[400, 404, 409, 412, 422];

/// The example of `POST /definitions`: the quick start's integration.
const INTEGRATION_EXAMPLE: &str = include_str!("../../../examples/quickstart-integration.yaml");

/// The example of `POST /runbooks`: a runbook of manual tasks.
const RUNBOOK_EXAMPLE: &str = "kind: runbook\nname: Example\ntasks:\n  - {id: prepare, name: Prepare}\n  \
                               - {id: check, name: Check, predecessors: [prepare]}\n";

/// `?file=NAME`: the definition file's name, used in errors; a `.json` name means JSON.
const FILE: Param = Param {
    name: "file",
    location: In::Query,
    required: false,
    description: "The file's name, used in errors; a `.json` name means JSON",
    schema: schema::<String>,
};

/// `?existing=`: what `POST /runbooks` does when a runbook of the same name and workspace exists.
const EXISTING: Param = Param {
    name: "existing",
    location: In::Query,
    required: false,
    description: "`new` (the default) always creates a runbook; `reuse` answers the runbook of the same name and \
                  workspace (200) when its definition is the same, and 409 `runbook_exists` when it differs",
    schema: schema::<runbooks::Existing>,
};

/// `If-Match`: the `ETag` the caller last read; a write against another version is refused with 412.
const IF_MATCH: Param = Param {
    name: "If-Match",
    location: In::Header,
    required: false,
    description: "The `ETag` last read (`\"7\"`), or `*`: a resource no longer at that version is left unchanged \
                  and the answer is 412 `precondition_failed`",
    schema: schema::<String>,
};

/// `If-None-Match`: the `ETag`s the caller holds; 304 when one is current.
const IF_NONE_MATCH: Param = Param {
    name: "If-None-Match",
    location: In::Header,
    required: false,
    description: "`ETag`s already held: 304 without a body when one of them is current",
    schema: schema::<String>,
};

/// Every route of the API.
pub static ROUTES: &[Route] = &[
    Route {
        method: Method::POST,
        path: "/users",
        access: access::ADMIN,
        operation: "createUser",
        summary: "Create a user; the answer holds its API token, shown this once",
        body: Body::Json(schema::<users::NewUserBody>),
        success: 201,
        also: &[],
        answer: Answer::Json(schema::<views::CreatedUser>),
        params: &[],
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
        also: &[],
        answer: Answer::Json(schema::<Page<views::UserView>>),
        params: paging::LIST,
        errors: &[],
        handler: || get(users::list),
    },
    Route {
        method: Method::POST,
        path: "/definitions",
        access: access::DEFINITIONS,
        operation: "applyDefinition",
        summary: "Apply a definition file: an integration (created or updated) or a runbook (created)",
        body: Body::Definition { example: INTEGRATION_EXAMPLE },
        success: 200,
        also: &[],
        answer: Answer::Json(schema::<views::AppliedView>),
        params: &[FILE],
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
        also: &[],
        answer: Answer::Json(schema::<Page<views::IntegrationView>>),
        params: paging::LIST,
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
        also: &[],
        answer: Answer::Tagged(schema::<views::IntegrationView>),
        params: &[IF_NONE_MATCH],
        errors: E_READ,
        handler: || get(integrations::get),
    },
    Route {
        method: Method::PATCH,
        path: "/integrations/{id}",
        access: access::INTEGRATIONS,
        operation: "editIntegration",
        summary: "Rename an integration (while no runbook uses it), change its image URL or archived flag",
        body: Body::Json(schema::<integrations::IntegrationPatch>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::IntegrationView>),
        params: &[IF_MATCH],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::IntegrationView>),
        params: &[IF_MATCH],
        errors: &[404, 412],
        handler: || delete(integrations::archive),
    },
    Route {
        method: Method::POST,
        path: "/integrations/{id}/actions",
        access: access::INTEGRATIONS,
        operation: "addAction",
        summary: "Add an action (an action definition as JSON) to an integration",
        body: Body::Json(schema::<Action>),
        success: 201,
        also: &[],
        answer: Answer::Tagged(schema::<views::ActionView>),
        params: &[],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::ActionView>),
        params: &[IF_NONE_MATCH],
        errors: E_READ,
        handler: || get(integrations::get_action),
    },
    Route {
        method: Method::PATCH,
        path: "/actions/{id}",
        access: access::INTEGRATIONS,
        operation: "editAction",
        summary: "Edit an action with a JSON merge patch; `[REDACTED]` keeps a stored secret; trigger and visibility are fixed",
        body: Body::Json(schema::<MergePatch<Action>>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::ActionView>),
        params: &[IF_MATCH],
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
        also: &[],
        answer: Answer::Json(schema::<Page<CustomField>>),
        params: paging::LIST,
        errors: &[],
        handler: || get(settings::list_custom_fields),
    },
    Route {
        method: Method::POST,
        path: "/custom-fields",
        access: access::CUSTOM_FIELDS,
        operation: "createCustomField",
        summary: "Create a custom field",
        body: Body::Json(schema::<CustomField>),
        success: 201,
        also: &[],
        answer: Answer::Json(schema::<CustomField>),
        params: &[],
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
        also: &[],
        answer: Answer::Json(schema::<Page<catalog::CatalogEntryView>>),
        params: &[],
        errors: &[],
        handler: || get(catalog::list_entries),
    },
    Route {
        method: Method::POST,
        path: "/catalog/{name}/install",
        access: access::ADMIN,
        operation: "installCatalogEntry",
        summary: "Install a catalog entry with its settings: a predefined integration, secret settings as secret system parameters",
        body: Body::Json(schema::<catalog::InstallBody>),
        success: 201,
        also: &[],
        answer: Answer::Json(schema::<catalog::CatalogInstalled>),
        params: &[],
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
        also: &[],
        answer: Answer::Json(schema::<Page<views::SystemParameterView>>),
        params: paging::LIST,
        errors: &[],
        handler: || get(settings::list_system_parameters),
    },
    Route {
        method: Method::POST,
        path: "/system-parameters",
        access: access::INTEGRATIONS,
        operation: "putSystemParameter",
        summary: "Create (201) or replace (200) a system parameter; its value is encrypted at rest",
        body: Body::Json(schema::<settings::ParameterBody>),
        success: 201,
        also: &[200],
        answer: Answer::Json(schema::<views::SystemParameterView>),
        params: &[],
        errors: &[400, 422],
        handler: || post(settings::put_system_parameter),
    },
    Route {
        method: Method::POST,
        path: "/runbooks",
        access: access::RUNBOOKS,
        operation: "createRunbook",
        summary: "Create a runbook from a runbook definition (YAML or JSON body)",
        body: Body::Definition { example: RUNBOOK_EXAMPLE },
        success: 201,
        also: &[200],
        answer: Answer::Tagged(schema::<views::RunbookBody>),
        params: &[FILE, EXISTING],
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
        also: &[],
        answer: Answer::Json(schema::<Page<views::RunbookSummary>>),
        params: runbooks::LIST,
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
        also: &[],
        answer: Answer::Tagged(schema::<views::RunbookBody>),
        params: &[IF_NONE_MATCH],
        errors: E_READ,
        handler: || get(runbooks::get),
    },
    Route {
        method: Method::PATCH,
        path: "/runbooks/{id}",
        access: access::RUNBOOKS,
        operation: "setRunbookCustomFields",
        summary: "Set runbook-level custom field values",
        body: Body::Json(schema::<runbooks::FieldsBody>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::RunbookBody>),
        params: &[IF_MATCH],
        errors: E_COMMAND_IF,
        handler: || patch(runbooks::set_fields),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/start",
        access: access::RUNBOOKS,
        operation: "startRunbook",
        summary: "Start a run in rehearsal or live mode",
        body: Body::Json(schema::<runbooks::StartBody>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::RunbookBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::RunbookBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::RunbookBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::RunbookBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::RunbookBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Json(schema::<Page<views::TaskBody>>),
        params: tasks::LIST,
        errors: E_READ,
        handler: || get(tasks::list),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks",
        access: access::RUNBOOKS,
        operation: "addTask",
        summary: "Add a task to a runbook in planning (checked as a definition file; an id is made from the name if absent)",
        body: Body::Json(schema::<tasks::NewTask>),
        success: 201,
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[],
        errors: E_COMMAND,
        handler: || post(tasks::add),
    },
    Route {
        method: Method::PATCH,
        path: "/runbooks/{id}/tasks/{task}/definition",
        access: access::RUNBOOKS,
        operation: "editTask",
        summary: "Change a task of a runbook in planning (a JSON merge patch of its definition; the id cannot change)",
        body: Body::Json(schema::<MergePatch<Task>>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[IF_MATCH],
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
        also: &[],
        answer: Answer::Empty,
        params: &[IF_MATCH],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[IF_NONE_MATCH],
        errors: E_READ,
        handler: || get(tasks::get),
    },
    Route {
        method: Method::PATCH,
        path: "/runbooks/{id}/tasks/{task}",
        access: access::TASKS,
        operation: "setTaskCustomFields",
        summary: "Set a task's custom field values",
        body: Body::Json(schema::<runbooks::FieldsBody>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[IF_MATCH],
        errors: E_COMMAND_IF,
        handler: || patch(tasks::set_fields),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks/{task}/start",
        access: access::TASKS,
        operation: "startTask",
        summary: "Start a task, firing its action; `force` overrides a fixed start time (runbook admins)",
        body: Body::OptionalJson(schema::<tasks::StartBody>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[],
        errors: E_COMMAND,
        handler: || post(tasks::finish),
    },
    Route {
        method: Method::POST,
        path: "/runbooks/{id}/tasks/{task}/skip",
        access: access::RUNBOOKS,
        operation: "skipTask",
        summary: "Skip a task, with a comment",
        body: Body::Json(schema::<tasks::SkipBody>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Tagged(schema::<views::TaskBody>),
        params: &[],
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
        also: &[],
        answer: Answer::Json(schema::<views::ActionsLogView>),
        params: &[],
        errors: E_READ,
        handler: || get(tasks::actions_log),
    },
    Route {
        method: Method::GET,
        path: "/runbooks/{id}/event-deliveries",
        access: READ,
        operation: "getEventDeliveries",
        summary: "The deliveries of the runbook's events to event integrations, with their attempts, in event order",
        body: Body::None,
        success: 200,
        also: &[],
        answer: Answer::Json(schema::<views::DeliveriesView>),
        params: &[],
        errors: E_READ,
        handler: || get(event_integrations::deliveries),
    },
    Route {
        method: Method::GET,
        path: "/event-integrations",
        access: READ,
        operation: "listEventIntegrations",
        summary: "List event integrations (secrets masked)",
        body: Body::None,
        success: 200,
        also: &[],
        answer: Answer::Json(schema::<Page<views::EventIntegrationView>>),
        params: paging::LIST,
        errors: &[],
        handler: || get(event_integrations::list),
    },
    Route {
        method: Method::POST,
        path: "/event-integrations",
        access: access::ADMIN,
        operation: "putEventIntegration",
        summary: "Create an event integration (201), or update the one of that name (200); `kind` may be left out",
        body: Body::Json(schema::<EventIntegration>),
        success: 201,
        also: &[200],
        answer: Answer::Tagged(schema::<views::EventIntegrationView>),
        params: &[],
        errors: &[400, 422],
        handler: || post(event_integrations::create),
    },
    Route {
        method: Method::GET,
        path: "/event-integrations/{id}",
        access: READ,
        operation: "getEventIntegration",
        summary: "Read an event integration (secrets masked)",
        body: Body::None,
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::EventIntegrationView>),
        params: &[],
        errors: E_READ,
        handler: || get(event_integrations::get),
    },
    Route {
        method: Method::PUT,
        path: "/event-integrations/{id}",
        access: access::ADMIN,
        operation: "replaceEventIntegration",
        summary: "Replace an event integration's definition (its name stays), if it is still at the `If-Match` version",
        body: Body::Json(schema::<EventIntegration>),
        success: 200,
        also: &[],
        answer: Answer::Tagged(schema::<views::EventIntegrationView>),
        params: &[IF_MATCH],
        errors: &[400, 404, 412, 422],
        handler: || put(event_integrations::replace),
    },
    Route {
        method: Method::DELETE,
        path: "/event-integrations/{id}",
        access: access::ADMIN,
        operation: "deleteEventIntegration",
        summary: "Delete an event integration; deliveries still due are given up, the log stays",
        body: Body::None,
        success: 204,
        also: &[],
        answer: Answer::Empty,
        params: &[],
        errors: E_READ,
        handler: || delete(event_integrations::delete),
    },
    Route {
        method: Method::GET,
        path: "/oauth/authorize",
        access: access::OAUTH,
        operation: "authorizeAction",
        summary: "Redirect (302) to the provider: ?action=ID for the functional user, &runbook=ID&task=ID for a task user",
        body: Body::None,
        success: 302,
        also: &[],
        answer: Answer::Redirect,
        params: oauth::AUTHORIZE,
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
        also: &[],
        answer: Answer::JsonOrHtml(schema::<oauth::OAuthResult>),
        params: oauth::CALLBACK,
        errors: &[400, 404, 409, 422, 502],
        handler: || get(oauth::callback),
    },
    Route {
        method: Method::POST,
        path: "/callbacks/{fire}",
        access: Access::CallbackToken,
        operation: "completeCallback",
        summary: "Complete a callback fire: `Authorization: Bearer <Callback.token>`; repeats are idempotent",
        body: Body::Json(schema::<callbacks::CallbackBody>),
        success: 200,
        also: &[],
        answer: Answer::Json(schema::<callbacks::CallbackResult>),
        params: &[],
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
        also: &[],
        answer: Answer::EventStream,
        params: events::PARAMS,
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
        also: &[],
        answer: Answer::Json(schema::<system::Health>),
        params: &[],
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
        also: &[],
        answer: Answer::Metrics,
        params: &[],
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
        also: &[],
        answer: Answer::Document("application/json"),
        params: &[],
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
        also: &[],
        answer: Answer::Document("application/schema+json"),
        params: &[],
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
        let mut method_router = (route.handler)();
        if let Body::Definition { .. } = route.body {
            // A definition file may be a runbook of many thousand tasks: its own, larger limit.
            method_router = method_router.layer(DefaultBodyLimit::max(state.limits.definition_bytes));
        }
        let method_router = method_router.route_layer(middleware::from_fn_with_state(guard, access::require));
        api = api.route(route.path, method_router);
    }
    Router::new()
        .nest(API_PREFIX, api)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.limits.body_bytes))
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
