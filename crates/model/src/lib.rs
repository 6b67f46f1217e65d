//! Domain types of runbook custom integrations, the definition files that declare them, and their validation.
//!
//! This crate is the vocabulary every other crate speaks: integrations and their actions (general settings, auth,
//! request, response handling, polling, callback), custom fields, system parameters, runbooks and tasks, and the stages
//! and statuses of contract section 6. It does no I/O: parsing takes text and returns values or positioned
//! diagnostics, so the CLI, the server and embedders share one definition of what a valid file is.
//!
//! Secret-bearing values (`client_secret`, `token`, `password`, API key `value`, secret system parameters) are held in
//! [`SecretValue`], whose `Debug` prints `[REDACTED]`.

mod action;
mod definition;
mod diagnostic;
mod error;
mod integration;
mod parse;
mod runbook;
mod secret;
mod status;
mod template_hook;
mod validate;

pub use action::{
    Action, ActionSettings, ApiKeyLocation, AuthSettings, AuthenticateAs, CallbackSpec, Condition, ConditionTest,
    ExecutionMode, HttpMethod, NotifyWebhook, OAuth2Grant, OAuth2Settings, PollingSpec, RequestSpec, ResponseSpec,
    Trigger, Visibility,
};
pub use definition::{Definition, DefinitionFormat};
pub use diagnostic::{Diagnostic, Position};
pub use error::ModelError;
pub use integration::{AppliesTo, CustomField, CustomFieldType, Integration, IntegrationKind, SystemParameter};
pub use runbook::{ActionRef, FieldValue, Runbook, Task};
pub use secret::SecretValue;
pub use status::{IntegrationStatus, Role, RunMode, RunbookStage, TaskStage};
pub use template_hook::{
    FieldReference, ReferenceScanner, TemplateChecker, TemplatePlace, TemplateProblem, TemplateReport,
};
pub use validate::{DefinitionSet, ParsedDefinition, SourceFile, Validator};
