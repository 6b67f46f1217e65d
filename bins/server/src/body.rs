//! Request bodies: bounded in size, and parsed so that a malformed body is a 400 naming the parser's line and column,
//! while a well-formed body with wrong content is a 422 naming the path of every value at fault.

use crate::AppState;
use crate::error::{ApiError, Detail};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use cutover_integrations_core::EngineError;
use serde::de::DeserializeOwned;

/// A JSON merge patch (RFC 7396) of a `T`: members replace those of the resource, `null` members remove theirs. It is
/// read as a JSON object and applied by the engine, which checks the result as a `T`; its schema is `T`'s with every
/// member optional and nullable (and no other member).
#[derive(Debug)]
pub(crate) struct MergePatch<T>(
    pub(crate) serde_json::Map<String, serde_json::Value>,
    pub(crate) std::marker::PhantomData<T>,
);

impl<'de, T: schemars::JsonSchema> serde::Deserialize<'de> for MergePatch<T> {
    /// Reads the object, refusing a member that `T` does not have when `T` admits no others: removing (`null`) or
    /// setting a member the resource cannot have is a mistake to report, not a patch to accept doing nothing.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let members = serde_json::Map::deserialize(deserializer)?;
        let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
        if schema.get("additionalProperties") == Some(&serde_json::Value::Bool(false)) {
            let known = schema.get("properties").and_then(serde_json::Value::as_object);
            if let Some(unknown) = members.keys().find(|name| !known.is_some_and(|known| known.contains_key(*name))) {
                return Err(serde::de::Error::custom(format_args!("unknown field `{unknown}`")));
            }
        }
        Ok(Self(members, std::marker::PhantomData))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for MergePatch<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("{}Patch", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let shape = T::json_schema(generator).to_value();
        let mut patch = patch_of(shape, generator.definitions(), PATCH_SCHEMA_DEPTH);
        if let serde_json::Value::Object(object) = &mut patch {
            object.insert(
                "description".into(),
                format!("A JSON merge patch (RFC 7396) of a {}", T::schema_name()).into(),
            );
        }
        schemars::Schema::try_from(patch).unwrap_or_default()
    }
}

/// How deep [`patch_of`] follows objects within objects (the resources patched nest three levels at most).
const PATCH_SCHEMA_DEPTH: u8 = 8;

/// The schema of a JSON merge patch (RFC 7396) of a value of schema `shape`. A patch of an object is itself an object
/// whose members are optional and may be `null` (remove the member), each a patch of the member's value in turn: the
/// patch `{"auth": {"password": "…"}}` changes the password alone, and `{"settings": {}}` changes nothing. Alternatives
/// (`oneOf`, `anyOf`) become `anyOf` of their patches, since one patch may fit several (`{}` fits every object).
/// Anything else (a string, a number, an array) is replaced whole, so its patch has its schema. `$ref`s to objects
/// are followed (up to `depth` levels) and inlined, the named schema staying as it is for whole values.
fn patch_of(
    mut shape: serde_json::Value,
    definitions: &serde_json::Map<String, serde_json::Value>,
    depth: u8,
) -> serde_json::Value {
    use serde_json::Value;
    let nullable = |patch: Value| serde_json::json!({"anyOf": [patch, {"type": "null"}]});
    let Some(object) = shape.as_object_mut().filter(|_| depth > 0) else {
        return shape;
    };
    if let Some(Value::String(reference)) = object.get("$ref") {
        let named = reference.rsplit('/').next().and_then(|name| definitions.get(name));
        if let Some(named) = named {
            let patch = patch_of(named.clone(), definitions, depth - 1);
            if patch != *named
                && let Value::Object(mut patch) = patch
            {
                object.remove("$ref");
                // The reference's own words (description, default) say more than the named schema's.
                patch.extend(std::mem::take(object));
                return Value::Object(patch);
            }
        }
        return shape;
    }
    let is_object = match object.get("type") {
        Some(Value::String(kind)) => kind == "object",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "object"),
        _ => false,
    };
    if is_object {
        object.remove("required");
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            for member in properties.values_mut() {
                *member = nullable(patch_of(member.take(), definitions, depth - 1));
            }
        }
        if let Some(others @ Value::Object(_)) = object.get_mut("additionalProperties") {
            *others = nullable(patch_of(others.take(), definitions, depth - 1));
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alternatives)) = object.get_mut(key) {
            let before = alternatives.clone();
            for alternative in alternatives.iter_mut() {
                *alternative = patch_of(alternative.take(), definitions, depth - 1);
            }
            if key == "oneOf" && *alternatives != before && !object.contains_key("anyOf") {
                let alternatives = object.remove("oneOf").unwrap_or_default();
                object.insert("anyOf".into(), alternatives);
            }
        }
    }
    shape
}

/// The pattern of a text that is not blank: one character that is not whitespace as Rust's `str::trim` and
/// `char::is_whitespace` know it (spelled out: a regex `\s` differs), so the schema says "not blank" exactly as the
/// server decides it.
pub(crate) const NOT_BLANK: &str = r"[^\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// The pattern of an email address as the engine checks it (`LOCAL@DOMAIN`, neither empty nor holding `@` or
/// whitespace, surrounding whitespace trimmed).
pub(crate) const EMAIL: &str = concat!(
    r"^[\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*",
    r"[^@\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+@",
    r"[^@\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+",
    r"[\t\n\x0B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
);

/// A JSON body of type `T`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

/// A JSON body of type `T`, or `T::default()` when the body is empty (commands whose options are all optional).
#[derive(Debug)]
pub(crate) struct OptionalJson<T>(pub(crate) T);

/// A definition file: its name (which decides YAML or JSON by extension) and its text, syntax already checked.
#[derive(Debug)]
pub(crate) struct DefinitionBody {
    /// `?file=NAME`, or `definition.json` for a JSON content type, `definition.yaml` otherwise.
    pub(crate) name: String,
    /// The file's text.
    pub(crate) text: String,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        parse_object(&bytes).map(Self)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_object(&bytes).map(Self)
    }
}

impl FromRequest<AppState> for DefinitionBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let file = request.uri().query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == "file").map(|(_, value)| value)
        });
        let json_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.split(';').next().is_some_and(|kind| kind.trim().ends_with("json")));
        let name = match file {
            Some(file) if !file.trim().is_empty() => file.into_owned(),
            _ if json_type => "definition.json".to_owned(),
            _ => "definition.yaml".to_owned(),
        };
        let bytes = read_body(request, state).await?;
        // A definition file may be megabytes (a runbook of 100,000 tasks): its text is checked on a blocking thread,
        // a bounded number at a time, never on an async worker.
        let _turn = state.syntax_checks.acquire().await.map_err(|_| ApiError::from(EngineError::ShuttingDown))?;
        tokio::task::spawn_blocking(move || definition_text(name, &bytes)).await.map_err(|error| {
            tracing::error!(%error, "the syntax check of a definition file stopped");
            ApiError::internal()
        })?
    }
}

/// The text of a definition file: UTF-8, well-formed JSON or YAML as its name says.
fn definition_text(name: String, bytes: &[u8]) -> Result<DefinitionBody, ApiError> {
    let text = String::from_utf8(bytes.to_vec()).map_err(|error| {
        ApiError::malformed(format!(
            "the body is not UTF-8: invalid byte at offset {}",
            error.utf8_error().valid_up_to()
        ))
    })?;
    check_syntax(&name, &text)?;
    Ok(DefinitionBody { name, text })
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state).await.map_err(|rejection| {
        let status = rejection.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE { "body_too_large" } else { "unreadable_body" };
        ApiError::new(status, code, rejection.body_text())
    })
}

/// Parses a JSON object (every JSON body of the API is one: serde would read a struct from an array too), as
/// [`parse_json`] does; well-formed JSON of another kind is a 422 at `$`.
fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = parse_json(bytes)?;
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::invalid("$", "expected a JSON object"));
    }
    Ok(value)
}

/// Parses JSON: syntax errors are 400 with line and column, content errors 422 with the path of the value.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = match error.path().to_string() {
            root if root == "." => "$".to_owned(),
            path => path,
        };
        let inner = error.into_inner();
        if inner.classify() != serde_json::error::Category::Data {
            return malformed_json(&inner);
        }
        let message = strip_position(&inner);
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", format!("{path}: {message}"))
            .with_details(vec![Detail::at(path, message)])
    })?;
    deserializer.end().map_err(|error| malformed_json(&error))?;
    Ok(value)
}

fn malformed_json(error: &serde_json::Error) -> ApiError {
    let (line, column) = (error.line() as u32, error.column() as u32);
    let message = strip_position(error);
    let detail = Detail { line: Some(line), column: Some(column), ..Detail::at("$", message.clone()) };
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("{line}:{column}: {message}"))
        .with_details(vec![detail])
}

/// serde_json's message without the ` at line L column C` it appends.
fn strip_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    message.strip_suffix(&suffix).unwrap_or(&message).to_owned()
}

/// A definition file must at least be well-formed JSON or YAML; otherwise it is a 400 with the parser's position.
fn check_syntax(name: &str, text: &str) -> Result<(), ApiError> {
    let is_json =
        std::path::Path::new(name).extension().is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
    let problem = if is_json {
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .err()
            .map(|error| (error.line() as u32, error.column() as u32, strip_position(&error)))
    } else {
        yaml_syntax_error(text)
    };
    let Some((line, column, message)) = problem else {
        return Ok(());
    };
    let detail =
        Detail { file: Some(name.to_owned()), line: Some(line), column: Some(column), ..Detail::at("$", &message) };
    let code = if is_json { "malformed_json" } else { "malformed_yaml" };
    Err(ApiError::new(StatusCode::BAD_REQUEST, code, format!("{name}:{line}:{column}: {message}"))
        .with_details(vec![detail]))
}

fn yaml_syntax_error(text: &str) -> Option<(u32, u32, String)> {
    let mut parser = saphyr_parser::Parser::new_from_str(text);
    loop {
        match parser.next_event() {
            None | Some(Ok((saphyr_parser::Event::StreamEnd, _))) => return None,
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                let marker = error.marker();
                return Some((marker.line() as u32, marker.col() as u32 + 1, error.info().to_owned()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        roles: Vec<String>,
    }

    #[test]
    fn json_errors_are_told_apart() {
        let cases = [
            (r#"{"name": "a", "roles": ["x"]}"#, None, None),
            (r#"{"name": "a", "roles": ["x"]"#, Some(StatusCode::BAD_REQUEST), Some("$")),
            ("", Some(StatusCode::BAD_REQUEST), Some("$")),
            (r#"{"name": 1, "roles": []}"#, Some(StatusCode::UNPROCESSABLE_ENTITY), Some("name")),
            (r#"{"name": "a", "roles": [1]}"#, Some(StatusCode::UNPROCESSABLE_ENTITY), Some("roles[0]")),
            (r#"{"name": "a", "roles": [], "x": 1}"#, Some(StatusCode::UNPROCESSABLE_ENTITY), Some("x")),
            (r#"{"name": "a"}"#, Some(StatusCode::UNPROCESSABLE_ENTITY), Some("$")),
            (r#"{"name": "a", "roles": []} trailing"#, Some(StatusCode::BAD_REQUEST), Some("$")),
            (r#"["a", []]"#, Some(StatusCode::UNPROCESSABLE_ENTITY), Some("$")),
            (r#"[]"#, Some(StatusCode::UNPROCESSABLE_ENTITY), Some("$")),
            (r#"["a""#, Some(StatusCode::BAD_REQUEST), Some("$")),
        ];
        for (body, status, path) in cases {
            let result = parse_object::<Sample>(body.as_bytes());
            assert_eq!(result.as_ref().err().map(|error| error.status), status, "{body}");
            let first = result.err().and_then(|error| error.details.first().map(|detail| detail.path.clone()));
            assert_eq!(first.as_deref(), path, "{body}");
        }
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let cases = [
            ("a.yaml", "kind: integration\nname: x\n", None),
            ("a.yaml", "kind: integration\nname: [x\n", Some(3)),
            ("a.yaml", "key: \"unclosed\n", Some(1)),
            ("a.json", "{\"kind\": \"integration\",\n \"name\": }", Some(2)),
            ("a.json", "kind: integration", Some(1)),
        ];
        for (name, text, line) in cases {
            let error = check_syntax(name, text).err();
            assert_eq!(error.as_ref().map(|error| error.status), line.map(|_| StatusCode::BAD_REQUEST), "{text}");
            assert_eq!(error.and_then(|error| error.details[0].line), line, "{text}");
        }
    }
}
