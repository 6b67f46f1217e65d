//! The OpenAPI 3.1 document, generated at run time from the route table ([`ROUTES`]) and the Rust types the handlers
//! take and answer with: every route with its path, query and header parameters, body, answers (with their media
//! types and headers), errors and the roles that may call it (`x-roles`).
//!
//! Schemas are derived with `schemars` from the same types: request bodies as they deserialize (unknown members
//! refused where the type refuses them), answers as they serialize (every member the server always writes is
//! `required`). A type whose two shapes differ (defaults, members skipped when empty) gets both: its answer shape
//! under its name, its request shape as `NameInput`. The route table is what the router is built from, so a route
//! cannot exist without being documented, and `tests/support/openapi.rs` checks every answer of the router tests
//! against this document.

use crate::access::{Access, role_name};
use crate::error::ErrorBody;
use crate::routes::{Answer, Body, In, ROUTES, Route, SchemaOf, schema};
use axum::http::Method;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// A route with its request parts (`parameters`, `requestBody`) and its `responses`, before they are assembled.
type Operation<'a> = (&'a Route, Map<String, Value>, Map<String, Value>);

/// The document.
pub(crate) fn document() -> Value {
    let mut answers = generator(SchemaSettings::for_serialize);
    let mut requests = generator(SchemaSettings::for_deserialize);
    let error = Value::from(schema::<ErrorBody<'static>>(&mut answers));
    let mut operations: Vec<Operation<'_>> = ROUTES
        .iter()
        .map(|route| {
            let request = request_parts(route, &mut requests);
            let answer = answer_parts(route, &mut answers, &error);
            (route, request, answer)
        })
        .collect();
    let mut schemas = answers.take_definitions(true);
    let mut request_schemas = requests.take_definitions(true);
    // A type whose request shape differs from its answer shape: its request shape is `NameInput`.
    let renamed: Vec<String> = request_schemas
        .iter()
        .filter(|(name, schema)| schemas.get(*name).is_some_and(|answer| answer != *schema))
        .map(|(name, _)| name.clone())
        .collect();
    for name in &renamed {
        if let Some(schema) = request_schemas.remove(name) {
            request_schemas.insert(format!("{name}Input"), schema);
        }
    }
    for schema in request_schemas.values_mut() {
        rename_references(schema, &renamed);
    }
    for (_, request, _) in &mut operations {
        for part in request.values_mut() {
            rename_references(part, &renamed);
        }
    }
    for (name, schema) in request_schemas {
        schemas.entry(name).or_insert(schema);
    }
    let mut paths = Map::new();
    for (route, request, answer) in operations {
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(route.operation));
        operation.insert("summary".into(), json!(route.summary));
        operation.insert("tags".into(), json!([tag(route.path)]));
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
        operation.extend(request);
        operation.extend(answer);
        let path = paths.entry(route.full_path()).or_insert_with(|| json!({}));
        if let Value::Object(path) = path {
            path.insert(route.method.as_str().to_ascii_lowercase(), Value::Object(operation));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cutover-server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The reference REST API of cutover-integrations: definitions, runbooks, tasks, OAuth, \
                callbacks and events. Lists answer pages (`{items, next_cursor}`; `limit`, `cursor`). Single \
                resources carry an `ETag`; `If-Match` on their writes answers 412 when stale. A method a path does \
                not have answers 405 with an `Allow` header naming those it has.",
        },
        "servers": [{"url": "/", "description": "This server (paths carry the `/api/v1` prefix)"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer", "description": "A user's API token"},
                "callbackToken": {"type": "http", "scheme": "bearer", "description": "The fire's {{Callback.token}}"},
            },
            "schemas": schemas,
        },
    })
}

/// A generator of draft 2020-12 schemas (what OpenAPI 3.1 uses) whose named types land in `components/schemas`.
fn generator(contract: fn(SchemaSettings) -> SchemaSettings) -> SchemaGenerator {
    contract(SchemaSettings::draft2020_12())
        .with(|settings| {
            settings.definitions_path = "/components/schemas".into();
            settings.meta_schema = None;
        })
        .into_generator()
}

/// Rewrites `$ref`s to the `renamed` schemas into `$ref`s to their `NameInput`.
fn rename_references(value: &mut Value, renamed: &[String]) {
    match value {
        Value::Object(object) => {
            for (key, member) in object.iter_mut() {
                if key == "$ref"
                    && let Value::String(reference) = member
                    && let Some(name) = reference.strip_prefix("#/components/schemas/")
                    && renamed.iter().any(|renamed| renamed == name)
                {
                    *reference = format!("{reference}Input");
                } else {
                    rename_references(member, renamed);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rename_references(item, renamed)),
        _ => {}
    }
}

/// An operation's `parameters` and `requestBody`.
fn request_parts(route: &Route, requests: &mut SchemaGenerator) -> Map<String, Value> {
    let mut parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')))
        .map(|name| {
            let schema = match name {
                "id" | "fire" => json!({"type": "integer", "format": "int64"}),
                _ => json!({"type": "string", "minLength": 1}),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    for param in route.params {
        let location = match param.location {
            In::Query => "query",
            In::Header => "header",
        };
        parameters.push(json!({
            "name": param.name,
            "in": location,
            "required": param.required,
            "description": param.description,
            "schema": Value::from((param.schema)(requests)),
        }));
    }
    let mut parts = Map::new();
    parts.insert("parameters".into(), Value::Array(parameters));
    let json_body = |schema: SchemaOf, required: bool, requests: &mut SchemaGenerator| json!({"required": required, "content": {"application/json": {"schema": Value::from(schema(requests))}}});
    let body = match route.body {
        Body::None => None,
        Body::Json(schema) => Some(json_body(schema, true, requests)),
        Body::OptionalJson(schema) => Some(json_body(schema, false, requests)),
        Body::Definition { example } => Some(json!({
            "required": true,
            "description": "One definition file (see `GET /api/v1/schema/definition.json`); `?file=NAME` names it \
                            in errors (a `.json` name means JSON)",
            "content": {
                "application/yaml": {"schema": {"type": "string"}, "example": example},
                "application/json": {"schema": {"type": "object"}},
            },
        })),
    };
    if let Some(body) = body {
        parts.insert("requestBody".into(), body);
    }
    parts
}

/// An operation's `responses`: its successful answers, then its errors.
fn answer_parts(route: &Route, answers: &mut SchemaGenerator, error: &Value) -> Map<String, Value> {
    let etag = json!({"ETag": {"description": "The resource's version, for `If-Match` and `If-None-Match`",
                               "required": true, "schema": {"type": "string"}}});
    let success = match route.answer {
        Answer::Json(schema) => json!({
            "description": "success",
            "content": {"application/json": {"schema": Value::from(schema(answers))}},
        }),
        Answer::JsonOrHtml(schema) => json!({
            "description": "success: JSON, or a short HTML page for a browser (`Accept: text/html`)",
            "content": {
                "application/json": {"schema": Value::from(schema(answers))},
                "text/html": {"schema": {"type": "string"}},
            },
        }),
        Answer::Tagged(schema) => json!({
            "description": "success",
            "headers": etag,
            "content": {"application/json": {"schema": Value::from(schema(answers))}},
        }),
        Answer::Empty => json!({"description": "done; no body"}),
        Answer::Redirect => json!({
            "description": "redirect to the provider's authorization page",
            "headers": {"Location": {"required": true, "schema": {"type": "string", "format": "uri"}}},
        }),
        Answer::EventStream => json!({
            "description": "Server-sent events: `event:` the kind (`runbook_created`, `runbook_stage_changed`, \
                `task_stage_changed`, `integration_status_changed`, …, or `refetch` when events after \
                `Last-Event-ID` are no longer kept), `id:` the event's id in the durable log, `data:` the change \
                as JSON",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }),
        Answer::Metrics => json!({
            "description": "Prometheus text exposition",
            "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
        }),
        Answer::Document(media) => json!({
            "description": "the document",
            "content": {media: {"schema": {"type": "object"}}},
        }),
    };
    let mut responses = Map::new();
    for status in std::iter::once(&route.success).chain(route.also) {
        responses.insert(status.to_string(), success.clone());
    }
    if matches!(route.answer, Answer::Tagged(_)) && route.method == Method::GET {
        responses.insert(
            "304".into(),
            json!({"description": "`If-None-Match` names the current version; no body", "headers": etag}),
        );
    }
    let mut errors: Vec<u16> = route.errors.to_vec();
    if let Access::AnyOf(_) = route.access {
        // 503: the engine is shutting down.
        errors.extend([401, 403, 503]);
    }
    if route.params.iter().any(|param| param.location == In::Query) {
        errors.push(422);
    }
    if !matches!(route.body, Body::None) {
        errors.extend([400, 413]);
    }
    errors.sort_unstable();
    errors.dedup();
    for status in errors {
        responses.insert(
            status.to_string(),
            json!({"description": reason(status), "content": {"application/json": {"schema": error}}}),
        );
    }
    let mut parts = Map::new();
    parts.insert("responses".into(), Value::Object(responses));
    parts
}

fn tag(path: &str) -> &str {
    path.trim_start_matches('/').split('/').next().unwrap_or("api")
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "malformed body or query (with the parser's line and column)",
        401 => "no valid token",
        403 => "the caller lacks a role",
        404 => "no such resource",
        409 => "not allowed in this state",
        412 => "`If-Match` names a version the resource is no longer at: nothing changed",
        413 => "the body is larger than 1 MiB",
        422 => "invalid input (every error with its path)",
        502 => "the OAuth provider failed",
        503 => "the database does not answer, or the engine is shutting down (`shutting_down`)",
        _ => "error",
    }
}
