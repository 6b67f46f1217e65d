//! The JSON Schema of definition files, generated from the model's own types (their serde shape is the file format),
//! so it cannot drift from what [`Validator`](crate::Validator) reads.
//!
//! Editors use it for completion and early errors (`# yaml-language-server: $schema=…` in a YAML file, `"$schema"` in
//! JSON); `cutover schema` prints it and the server serves it at [`SCHEMA_PATH`]. It checks structure (keys, types,
//! enumerations, required keys); the rules that need more than one value (unique names, declared custom fields,
//! templates, cycles) are the validator's alone.

use crate::Definition;
use serde_json::Value;

/// Where `cutover-server` serves the schema, under its API prefix: `/api/v1/schema/definition.json`.
pub const SCHEMA_PATH: &str = "/schema/definition.json";

/// The schema's `$id`, stable across versions of this crate's format.
pub const SCHEMA_ID: &str = "https://cutover-integrations.dev/schema/definition.json";

/// The JSON Schema (draft 2020-12) of a definition file's document: an integration or a runbook, told apart by `kind`.
///
/// ```
/// let schema = cutover_integrations_model::definition_schema();
/// assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
/// assert!(schema["oneOf"].is_array());
/// ```
pub fn definition_schema() -> Value {
    let schema = schemars::schema_for!(Definition);
    let mut value = schema.to_value();
    if let Value::Object(object) = &mut value {
        object.insert("$id".to_owned(), Value::String(SCHEMA_ID.to_owned()));
        object.insert("title".to_owned(), Value::String("cutover-integrations definition file".to_owned()));
        object.insert(
            "description".to_owned(),
            Value::String(
                "One integration (`kind: integration`) or one runbook (`kind: runbook`). Structure only: \
                 `cutover validate` also checks names, references, templates and the task graph."
                    .to_owned(),
            ),
        );
    }
    value
}
