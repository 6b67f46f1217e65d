//! Domain types of runbook custom integrations, the definition files that declare them, and their validation.
//!
//! This crate is the vocabulary every other crate speaks: integrations and their actions (general settings, auth,
//! request, response handling, polling, callback), custom fields, system parameters, runbooks and tasks, and the stages
//! and statuses of contract section 6. It does no I/O: parsing takes text and returns values or positioned
//! diagnostics, so the CLI, the server and embedders share one definition of what a valid file is.
//!
//! # Reading definition files
//!
//! [`Validator::parse`] reads one file, [`Validator::validate`] several together (so that runbooks are checked against
//! the integrations given with them). Either returns the typed [`Definition`]s or **every** error at once, each a
//! [`Diagnostic`] with file, line, column and path, printed as `FILE:LINE:COL: PATH: message`:
//!
//! ```
//! use cutover_integrations_model::{SourceFile, Validator};
//!
//! let text = "kind: integration\nname: Ops\nactions:\n  - name: Ping\n    request: {method: GET, url: https://x, payload: '{}'}\n";
//! let errors = Validator::new().parse(&SourceFile::new("ops.yaml", text)).unwrap_err();
//! assert_eq!(
//!     errors[0].to_string(),
//!     "ops.yaml:5:44: actions[0].request.payload: `payload` is not allowed with `GET`, which sends no body; use `params`"
//! );
//! ```
//!
//! Why not serde for reading: serde stops at the first error and forgets where values were. Instead a positioned YAML
//! tree (JSON files are strict JSON, then read as YAML flow syntax) is walked by hand-written readers that report every
//! problem and record where each value sits; validation rules then run on the typed values and look positions up by
//! path. Templates are handed to a [`TemplateChecker`] with the [`TemplatePlace`] they land in, and the positions it
//! reports inside a template are mapped back into the file. Writing uses the serde derives ([`Definition::to_yaml`],
//! [`Definition::to_json`]); a property test keeps the two directions in agreement.
//!
//! Secret-bearing values (`client_secret`, `token`, `password`, API key `value`, the Standard Webhooks `secret`,
//! secret system parameters) are held in [`SecretValue`], whose `Debug` prints `[REDACTED]`.

mod action;
mod definition;
mod diagnostic;
mod error;
mod event_integration;
mod host;
mod integration;
mod parse;
mod runbook;
mod schema;
mod secret;
mod status;
mod template_hook;
mod text;
mod validate;
mod webhook_secret;

pub use action::{
    Action, ActionSettings, ApiKeyLocation, AuthSettings, AuthenticateAs, BodyTemplate, CallbackSpec, Condition,
    ConditionTest, ExecutionMode, HttpMethod, MAX_STRUCTURE_DEPTH, NotifyWebhook, OAuth2Grant, OAuth2Settings,
    PollingSpec, RequestSpec, ResponseSpec, Trigger, Visibility,
};
pub use definition::{Definition, DefinitionFormat};
pub use diagnostic::{Diagnostic, Position};
pub use error::ModelError;
pub use event_integration::{EventIntegration, EventScope, EventType};
pub use host::{HostPattern, RedirectPolicy};
pub use integration::{AppliesTo, CustomField, CustomFieldType, Integration, IntegrationKind, SystemParameter};
pub use runbook::{ActionRef, FieldValue, Runbook, Task};
pub use schema::{SCHEMA_ID, SCHEMA_PATH, definition_schema};
pub use secret::SecretValue;
pub use status::{IntegrationStatus, Role, RunMode, RunbookStage, TaskStage};
pub use template_hook::{
    FieldReference, ReferenceScanner, TemplateChecker, TemplatePlace, TemplateProblem, TemplateReport,
};
pub use text::{NUL_MESSAGE, storable_text};
pub use validate::{DefinitionSet, ParsedDefinition, SourceFile, Validator};
pub use webhook_secret::{
    WEBHOOK_SECRET_MAX_BYTES, WEBHOOK_SECRET_MIN_BYTES, WEBHOOK_SECRET_PREFIX, decode_webhook_secret,
};
