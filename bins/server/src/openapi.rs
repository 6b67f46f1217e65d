//! The OpenAPI 3.1 document, generated from the route table at run time: every route with its parameters, body,
//! answers and the roles that may call it (`x-roles`), and the schemas the routes name.
//!
//! Generated from [`ROUTES`] rather than derived with a macro crate: the table is what the router is built from, so a
//! route cannot exist without being documented, and the server keeps no proc-macro dependency tree.

use crate::access::{Access, role_name};
use crate::routes::{API_PREFIX, Body, ROUTES};
use serde_json::{Map, Value, json};

/// A page of a list: `{"items": [...], "next_cursor": "…" | null}` (see `src/paging.rs`).
fn page_of(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            "next_cursor": {"type": ["string", "null"], "description": "Pass as `?cursor=` for the next page"},
        },
    })
}

/// The document.
pub(crate) fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(route.operation));
        operation.insert("summary".into(), json!(route.summary));
        operation.insert("tags".into(), json!([tag(route.path)]));
        let parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        operation.insert("parameters".into(), Value::Array(parameters));
        match route.access {
            Access::Public => {
                operation.insert("security".into(), json!([]));
            }
            Access::CallbackToken => {
                operation.insert("security".into(), json!([{"callbackToken": []}]));
            }
            Access::AnyOf(_) => {
                operation.insert("security".into(), json!([{"apiToken": []}]));
                let roles: Vec<String> = route.access.roles().iter().map(role_name).collect();
                operation.insert("x-roles".into(), json!(roles));
            }
        }
        if let Some(body) = request_body(route.body) {
            operation.insert("requestBody".into(), body);
        }
        let mut responses = Map::new();
        let success = match route.response {
            Some(schema) => json!({
                "description": "success",
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
            }),
            None => json!({"description": "success"}),
        };
        responses.insert(route.success.to_string(), success);
        let mut errors: Vec<u16> = route.errors.to_vec();
        if let Access::AnyOf(_) = route.access {
            errors.extend([401, 403]);
        }
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(
                status.to_string(),
                json!({
                    "description": reason(status),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }),
            );
        }
        operation.insert("responses".into(), Value::Object(responses));
        let path = paths.entry(format!("{API_PREFIX}{}", route.path)).or_insert_with(|| json!({}));
        if let Value::Object(path) = path {
            path.insert(route.method.as_str().to_ascii_lowercase(), Value::Object(operation));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cutover-server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The reference REST API of cutover-integrations: definitions, runbooks, tasks, OAuth, callbacks and events.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer", "description": "A user's API token"},
                "callbackToken": {"type": "http", "scheme": "bearer", "description": "The fire's {{Callback.token}}"},
            },
            "schemas": schemas(),
        },
    })
}

fn tag(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("api")
}

fn request_body(body: Body) -> Option<Value> {
    let reference = |schema: &str| json!({"$ref": format!("#/components/schemas/{schema}")});
    match body {
        Body::None => None,
        Body::Json(schema) => {
            Some(json!({"required": true, "content": {"application/json": {"schema": reference(schema)}}}))
        }
        Body::OptionalJson(schema) => {
            Some(json!({"required": false, "content": {"application/json": {"schema": reference(schema)}}}))
        }
        Body::Definition => Some(json!({
            "required": true,
            "description": "One definition file; `?file=NAME` names it in errors (a `.json` name means JSON)",
            "content": {
                "application/yaml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        })),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "malformed body or query (with the parser's line and column)",
        401 => "no valid token",
        403 => "the caller lacks a role",
        404 => "no such resource",
        409 => "not allowed in this state",
        412 => "`If-Match` names a version the resource is no longer at: nothing changed",
        422 => "invalid input (every error with its path)",
        502 => "the OAuth provider failed",
        503 => "the database does not answer",
        _ => "error",
    }
}

fn schemas() -> Value {
    let stage = json!({"type": "string", "enum": ["not_startable", "startable", "in_progress", "complete", "skipped"]});
    let status = json!({"type": "string", "enum": ["none", "pending", "running", "waiting", "succeeded", "failed", "cancelled", "not_sent"]});
    let roles = json!({"type": "array", "items": {"type": "string", "enum": ["admin", "integrations_admin", "custom_fields_admin", "runbook_admin", "operator", "viewer"]}});
    let field_values = json!({"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}});
    let entries: Vec<(&str, Value)> = vec![
        (
            "Error",
            json!({
                "type": "object",
                "required": ["error"],
                "properties": {"error": {
                    "type": "object",
                    "required": ["code", "message", "details"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {"type": "array", "items": {
                            "type": "object",
                            "required": ["path", "message"],
                            "properties": {
                                "path": {"type": "string"}, "message": {"type": "string"}, "file": {"type": "string"},
                                "line": {"type": "integer"}, "column": {"type": "integer"},
                            },
                        }},
                    },
                }},
            }),
        ),
        (
            "User",
            json!({"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"}, "roles": roles}}),
        ),
        ("Users", page_of("User")),
        (
            "NewUser",
            json!({"type": "object", "required": ["name", "email", "roles"], "additionalProperties": false,
            "properties": {"name": {"type": "string"}, "email": {"type": "string"}, "roles": roles}}),
        ),
        (
            "CreatedUser",
            json!({"allOf": [{"$ref": "#/components/schemas/User"}, {"type": "object", "properties": {"token": {"type": "string", "description": "shown once"}}}]}),
        ),
        (
            "AppliedDefinitions",
            json!({"type": "object", "properties": {
                "integrations": {"type": "array", "items": {"type": "object", "properties": {
                    "integration_id": {"type": "integer"}, "created": {"type": "boolean"},
                    "actions_created": {"type": "array", "items": {"type": "string"}},
                    "actions_updated": {"type": "array", "items": {"type": "string"}},
                    "custom_fields": {"type": "array", "items": {"type": "string"}},
                }}},
                "runbooks": {"type": "array", "items": {"type": "integer"}},
            }}),
        ),
        (
            "Integration",
            json!({"type": "object", "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "type": {"type": "string", "enum": ["custom", "predefined"]},
                "image_url": {"type": ["string", "null"]}, "archived": {"type": "boolean"},
                "custom_fields": {"type": "array", "items": {"$ref": "#/components/schemas/CustomField"}},
                "actions": {"type": "array", "items": {"$ref": "#/components/schemas/Action"}},
            }}),
        ),
        ("Integrations", page_of("Integration")),
        (
            "TaskDefinition",
            json!({"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
                "action": {"type": "string", "description": "INTEGRATION/ACTION; a manual task when absent"},
                "predecessors": {"type": "array", "items": {"type": "string"}},
                "custom_fields": field_values.clone(), "auto_start": {"type": "boolean"},
                "fixed_start": {"type": "string", "format": "date-time"}, "duration_seconds": {"type": "integer"},
                "assignee": {"type": "string"},
            }}),
        ),
        (
            "TaskDefinitionPatch",
            json!({"type": "object", "description": "JSON merge patch (RFC 7396) of a TaskDefinition; null removes a member"}),
        ),
        (
            "IntegrationPatch",
            json!({"type": "object", "additionalProperties": false,
            "properties": {"name": {"type": "string", "description": "refused (422 at `name`) while a runbook's task names the integration"},
                "image_url": {"type": "string"}, "archived": {"type": "boolean"}}}),
        ),
        (
            "Action",
            json!({"type": "object", "description": "An action definition as in definition files (contract section 2); auth secrets read back as [REDACTED]",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "image_url": {"type": "string"},
                "trigger": {"type": "string"}, "visibility": {}, "settings": {"type": "object"}, "auth": {"type": "object"},
                "request": {"type": "object", "description": "absent: a draft, which no task may use"},
                "response": {"type": "object"}, "polling": {"type": "object"}, "callback": {"type": "object"},
                "oauth": {"type": "object", "description": "GET /actions/{id} of an OAuth functional-user action: status, obtained_at, expires_at, authenticated_by, authenticated_at"}}}),
        ),
        (
            "CustomField",
            json!({"type": "object", "required": ["name", "type"], "properties": {
                "name": {"type": "string"},
                "type": {"type": "string", "enum": ["text", "textarea", "select", "radio", "checkboxes", "date", "user"]},
                "options": {"type": "array", "items": {"type": "string"}}, "required": {"type": "boolean"},
                "transient": {"type": "boolean"}, "applies_to": {"type": "string", "enum": ["task", "runbook"]},
                "restrict_to": {"type": "array", "items": {"type": "string"}},
            }}),
        ),
        ("CustomFields", page_of("CustomField")),
        (
            "SystemParameter",
            json!({"type": "object", "properties": {"name": {"type": "string"}, "secret": {"type": "boolean"},
            "value": {"type": ["string", "null"], "description": "null for secret parameters"}}}),
        ),
        ("SystemParameters", page_of("SystemParameter")),
        (
            "CatalogEntry",
            json!({"type": "object", "required": ["name", "title", "summary", "file", "actions", "custom_fields", "settings"],
            "properties": {
                "name": {"type": "string"}, "title": {"type": "string"}, "summary": {"type": "string"}, "file": {"type": "string"},
                "actions": {"type": "array", "items": {"type": "string"}},
                "custom_fields": {"type": "array", "items": {"type": "string"}},
                "settings": {"type": "array", "items": {"type": "object", "properties": {
                    "key": {"type": "string"}, "label": {"type": "string"}, "description": {"type": "string"},
                    "kind": {"type": "string", "enum": ["url", "text", "secret", "secret_url", "webhook_secret"]},
                    "secret": {"type": "boolean"}, "required": {"type": "boolean"}, "default": {"type": ["string", "null"]},
                    "system_parameter": {"type": ["string", "null"], "description": "The secret system parameter a secret setting is stored in"},
                }}},
            }}),
        ),
        ("CatalogEntries", page_of("CatalogEntry")),
        (
            "CatalogInstall",
            json!({"type": "object", "additionalProperties": false, "properties": {
                "name": {"type": "string", "description": "The integration's name; the entry's own by default"},
                "settings": {"type": "object", "additionalProperties": {"type": "string"}},
            }}),
        ),
        (
            "CatalogInstalled",
            json!({"type": "object", "required": ["integration_id", "name", "parameters_set", "parameters_unset"], "properties": {
                "integration_id": {"type": "integer"}, "name": {"type": "string"},
                "parameters_set": {"type": "array", "items": {"type": "string"}},
                "parameters_unset": {"type": "array", "items": {"type": "string"}},
            }}),
        ),
        (
            "NewSystemParameter",
            json!({"type": "object", "required": ["name", "value"], "additionalProperties": false,
            "properties": {"name": {"type": "string"}, "value": {"type": "string"}, "secret": {"type": "boolean"}}}),
        ),
        (
            "RunbookSummary",
            json!({"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"},
            "workspace": {"type": ["string", "null"]},
            "stage": {"type": "string", "enum": ["planning", "active", "paused", "cancelled", "complete"]},
            "mode": {"type": ["string", "null"], "enum": ["rehearsal", "live", null]}}}),
        ),
        ("RunbookSummaries", page_of("RunbookSummary")),
        (
            "Runbook",
            json!({"allOf": [{"$ref": "#/components/schemas/RunbookSummary"}, {"type": "object", "properties": {
                "description": {"type": ["string", "null"]}, "custom_fields": field_values,
                "started_at": {"type": ["string", "null"]}, "ended_at": {"type": ["string", "null"]},
                "done": {"type": "integer"}, "tasks": {"$ref": "#/components/schemas/Tasks"},
            }}]}),
        ),
        (
            "Task",
            json!({"type": "object", "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "action": {"type": ["string", "null"]},
                "predecessors": {"type": "array", "items": {"type": "string"}}, "stage": stage,
                "integration_status": status, "failure_reason": {"type": ["string", "null"]},
                "waiting_reason": {"type": ["string", "null"]}, "fire": {"type": "integer"},
                "custom_fields": field_values, "missing_fields": {"type": "array", "items": {"type": "string"}},
            }}),
        ),
        ("Tasks", page_of("Task")),
        (
            "CustomFieldValues",
            json!({"type": "object", "required": ["custom_fields"], "additionalProperties": false,
            "properties": {"custom_fields": field_values}}),
        ),
        (
            "StartRunbook",
            json!({"type": "object", "required": ["mode"], "additionalProperties": false,
            "properties": {"mode": {"type": "string", "enum": ["rehearsal", "live"]}}}),
        ),
        (
            "StartTask",
            json!({"type": "object", "additionalProperties": false, "properties": {"force": {"type": "boolean"}}}),
        ),
        (
            "SkipTask",
            json!({"type": "object", "required": ["comment"], "additionalProperties": false,
            "properties": {"comment": {"type": "string"}}}),
        ),
        (
            "ActionsLog",
            json!({"type": "object", "properties": {
                "runbook": {"type": "integer"}, "task": {"type": "string"},
                "fires": {"type": "array", "items": {"type": "object", "properties": {
                    "fire_id": {"type": "integer"}, "number": {"type": "integer"}, "idempotency_key": {"type": "string"},
                    "status": {"type": "string", "enum": ["due", "waiting", "done"]}, "outcome": {"type": ["string", "null"]},
                    "entries": {"type": "array", "items": {"type": "object", "description": "an attempt (request, response, curl, duration) or a note"}},
                }}},
            }}),
        ),
        (
            "CallbackReport",
            json!({"type": "object", "required": ["status"], "additionalProperties": false,
                "description": "custom_fields may set only declared fields that apply to the fire's action (422 otherwise)",
                "properties": {
                "status": {"type": "string", "enum": ["success", "failure", "progress"]},
                "message": {"type": "string"}, "custom_fields": field_values,
            }}),
        ),
        (
            "CallbackResult",
            json!({"type": "object", "properties": {"fire": {"type": "integer"},
            "applied": {"type": "boolean", "description": "false for an idempotent repeat"}}}),
        ),
        (
            "OAuthResult",
            json!({"type": "object", "properties": {"authorized": {"type": "boolean"}, "credential": {"type": "string"}}}),
        ),
        ("Health", json!({"type": "object", "properties": {"status": {"type": "string"}}})),
    ];
    Value::Object(entries.into_iter().map(|(name, schema)| (name.to_owned(), schema)).collect())
}
