//! Checks answers against the server's OpenAPI document: the route and method are documented (or the answer is the
//! documented 404 or 405 error), the status is one the operation lists, the media type is one it lists, the headers it
//! marks required are there, and the body validates against the operation's schema (JSON Schema 2020-12, with the
//! `jsonschema` crate, `$ref`s resolved inside the document).

use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// One answer to check.
#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    /// The request's method, upper case.
    pub(crate) method: &'a str,
    /// The request's path, with or without a query.
    pub(crate) path: &'a str,
    /// The answer's status.
    pub(crate) status: u16,
    /// The answer's headers, names in lower case.
    pub(crate) headers: &'a [(String, String)],
    /// The answer's body: its JSON, a JSON string holding its text, or null when empty.
    pub(crate) body: &'a Value,
}

/// A document and the validators compiled from it so far.
pub(crate) struct Contract {
    document: Value,
    validators: Mutex<HashMap<String, jsonschema::Validator>>,
}

impl Contract {
    /// A contract over an OpenAPI document.
    pub(crate) fn new(document: Value) -> Self {
        Self { document, validators: Mutex::new(HashMap::new()) }
    }

    /// Every way the answer departs from the document (`Err` with one line per departure).
    pub(crate) fn check(&self, exchange: &Exchange<'_>) -> Result<(), String> {
        let path = exchange.path.split('?').next().unwrap_or_default();
        let header = |name: &str| {
            exchange.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
        };
        let Some((template, item)) = self.path_item(path) else {
            return self.error_answer(exchange, 404, "an unknown path");
        };
        let Some(operation) = item.get(exchange.method.to_ascii_lowercase()) else {
            let allow = header("allow").unwrap_or_default().to_owned();
            let mut documented: Vec<String> = item
                .as_object()
                .map_or_else(Vec::new, |methods| methods.keys().map(|method| method.to_ascii_uppercase()).collect());
            let mut allowed: Vec<String> = allow.split(',').map(|method| method.trim().to_owned()).collect();
            documented.sort();
            allowed.sort();
            allowed.retain(|method| method != "HEAD");
            if allowed != documented {
                return Err(format!("405 on {template}: `Allow: {allow}` does not name exactly {documented:?}"));
            }
            return self.error_answer(exchange, 405, "an undocumented method");
        };
        let status = exchange.status.to_string();
        let Some(response) = operation["responses"].get(&status) else {
            return Err(format!("{} {template}: status {status} is not documented", exchange.method));
        };
        let mut problems = Vec::new();
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for (name, spec) in headers {
                if spec["required"] == json!(true) && header(name).is_none() {
                    problems.push(format!("the required header `{name}` is missing"));
                }
            }
        }
        match response.get("content").and_then(Value::as_object) {
            None => {
                if !exchange.body.is_null() {
                    problems.push(format!("a body where none is documented: {}", exchange.body));
                }
            }
            Some(content) => {
                let given = header("content-type").unwrap_or_default();
                let media = content.iter().find(|(media, _)| same_media(media, given));
                match media {
                    None => problems
                        .push(format!("media type `{given}` is not one of {:?}", content.keys().collect::<Vec<_>>())),
                    Some((media, spec)) => {
                        let key = format!("{} {template} {status} {media}", exchange.method);
                        if let Err(errors) = self.validate(&key, &spec["schema"], exchange.body, media) {
                            problems.extend(errors);
                        }
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{} {} → {status}:\n  {}", exchange.method, exchange.path, problems.join("\n  ")))
        }
    }

    /// The path item whose template matches `path` (literal segments before templated ones).
    fn path_item(&self, path: &str) -> Option<(&str, &Value)> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, &str, &Value)> = None;
        for (template, item) in self.document["paths"].as_object()? {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut literal = 0;
            let fits = parts.iter().zip(&segments).all(|(part, segment)| {
                if part.starts_with('{') {
                    !segment.is_empty()
                } else {
                    literal += 1;
                    part == segment
                }
            });
            if fits && best.is_none_or(|(most, _, _)| literal > most) {
                best = Some((literal, template, item));
            }
        }
        best.map(|(_, template, item)| (template, item))
    }

    /// Whether a request body fits the document's schema `name` (`#/components/schemas/<name>`); `Err` lists why not.
    pub(crate) fn fits(&self, name: &str, body: &Value) -> Result<(), Vec<String>> {
        let schema = json!({"$ref": format!("#/components/schemas/{name}")});
        self.validate(&format!("request {name}"), &schema, body, "application/json")
    }

    /// An answer to a path or method the document does not have: the API's JSON error with `status`.
    fn error_answer(&self, exchange: &Exchange<'_>, status: u16, what: &str) -> Result<(), String> {
        if exchange.status != status {
            return Err(format!(
                "{} {}: {what} answered {}, not {status}",
                exchange.method, exchange.path, exchange.status
            ));
        }
        let schema = json!({"$ref": "#/components/schemas/Error"});
        self.validate("error", &schema, exchange.body, "application/json")
            .map_err(|errors| format!("{} {}: {}", exchange.method, exchange.path, errors.join("; ")))
    }

    fn validate(&self, key: &str, schema: &Value, body: &Value, media: &str) -> Result<(), Vec<String>> {
        // Text answers (event streams, metrics, HTML) arrive as a JSON string; JSON documents as JSON.
        let body = if media.contains("json") || body.is_string() { body.clone() } else { Value::Null };
        let mut validators = self.validators.lock().expect("validators");
        if !validators.contains_key(key) {
            let mut root = Map::new();
            root.insert("components".into(), self.document["components"].clone());
            root.insert("allOf".into(), json!([schema]));
            let validator = jsonschema::validator_for(&Value::Object(root))
                .map_err(|error| vec![format!("the document's schema for {key} does not compile: {error}")])?;
            validators.insert(key.to_owned(), validator);
        }
        let validator = &validators[key];
        let errors: Vec<String> =
            validator.iter_errors(&body).map(|error| format!("at `{}`: {error}", error.instance_path())).collect();
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// Whether a documented media type (`text/plain; version=0.0.4`) covers a `Content-Type`
/// (`text/plain; version=0.0.4; charset=utf-8`): the same type, and every documented parameter present.
fn same_media(documented: &str, given: &str) -> bool {
    let parts = |text: &str| -> Vec<String> {
        text.split(';').map(|part| part.trim().to_ascii_lowercase()).filter(|part| !part.is_empty()).collect()
    };
    let (documented, given) = (parts(documented), parts(given));
    documented.first() == given.first() && documented.iter().skip(1).all(|parameter| given.contains(parameter))
}
