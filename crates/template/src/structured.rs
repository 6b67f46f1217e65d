//! [`BodyTemplateCompiled`]: a request body or query parameters in either form, compiled once: the text form is one
//! [`Template`]; the structured form is a tree of literal JSON values and leaf templates, rendered to a JSON value, so
//! that the body is valid JSON by construction whatever the values hold.

use crate::{SecretSet, Template, TemplateContext, TemplateError};
use cutover_integrations_model::{BodyTemplate, MAX_STRUCTURE_DEPTH, TemplatePlace};
use serde_json::{Map, Value};

/// A compiled `payload` or `params`.
#[derive(Debug, Clone)]
pub(crate) enum BodyTemplateCompiled {
    /// One template of the whole text.
    Text(Template),
    /// A structure whose string leaves are templates.
    Structured(Part),
}

/// A part of a structured body.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    /// A number, boolean or null, sent as it is.
    Literal(Value),
    /// A string leaf: a template compiled for [`TemplatePlace::StructuredLeaf`].
    Leaf(Template),
    /// A list.
    List(Vec<Part>),
    /// An object, keys in file order.
    Object(Vec<(String, Part)>),
}

impl BodyTemplateCompiled {
    /// Compiles `body`, the text form for `text_place`. Errors in a leaf name its path below the body (`text`,
    /// `blocks[0].text`, `['a b']`), and positions are relative to the leaf.
    pub(crate) fn compile(body: &BodyTemplate, text_place: TemplatePlace) -> Result<Self, TemplateError> {
        Ok(match body {
            BodyTemplate::Text(text) => Self::Text(Template::compile(text, text_place)?),
            BodyTemplate::Object(map) => Self::Structured(Part::object(map, "", 1)?),
            BodyTemplate::List(items) => Self::Structured(Part::list(items, "", 1)?),
        })
    }

    /// Every template, with its path below the body (empty for the text form).
    pub(crate) fn templates(&self) -> Vec<(String, &Template)> {
        let mut all = Vec::new();
        match self {
            Self::Text(template) => all.push((String::new(), template)),
            Self::Structured(part) => part.templates(String::new(), &mut all),
        }
        all
    }
}

impl Part {
    fn compile(value: &Value, path: &str, depth: usize) -> Result<Self, TemplateError> {
        Ok(match value {
            Value::String(source) => Self::Leaf(
                Template::compile(source, TemplatePlace::StructuredLeaf).map_err(|e| e.in_field(path.to_owned()))?,
            ),
            Value::Array(items) => Self::list(items, path, depth + 1)?,
            Value::Object(map) => Self::object(map, path, depth + 1)?,
            other => Self::Literal(other.clone()),
        })
    }

    fn list(items: &[Value], path: &str, depth: usize) -> Result<Self, TemplateError> {
        check_depth(path, depth)?;
        let parts = items
            .iter()
            .enumerate()
            .map(|(index, item)| Self::compile(item, &format!("{path}[{index}]"), depth))
            .collect::<Result<_, _>>()?;
        Ok(Self::List(parts))
    }

    fn object(map: &Map<String, Value>, path: &str, depth: usize) -> Result<Self, TemplateError> {
        check_depth(path, depth)?;
        let parts = map
            .iter()
            .map(|(key, item)| Ok((key.clone(), Self::compile(item, &key_path(path, key), depth)?)))
            .collect::<Result<_, TemplateError>>()?;
        Ok(Self::Object(parts))
    }

    /// Renders the part to its JSON value; `path` names the part in errors.
    pub(crate) fn render(
        &self,
        context: &TemplateContext,
        secrets: &mut SecretSet,
        path: &mut String,
    ) -> Result<Value, TemplateError> {
        Ok(match self {
            Self::Literal(value) => value.clone(),
            Self::Leaf(template) => {
                template.render_value_tracked(context, secrets).map_err(|e| e.in_field(path.clone()))?
            }
            Self::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let length = path.len();
                    path.push_str(&format!("[{index}]"));
                    values.push(item.render(context, secrets, path)?);
                    path.truncate(length);
                }
                Value::Array(values)
            }
            Self::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, item) in entries {
                    let length = path.len();
                    let key_path = key_path(path, key);
                    path.clear();
                    path.push_str(&key_path);
                    let value = item.render(context, secrets, path)?;
                    path.truncate(length);
                    map.insert(key.clone(), value);
                }
                Value::Object(map)
            }
        })
    }

    fn templates<'a>(&'a self, path: String, all: &mut Vec<(String, &'a Template)>) {
        match self {
            Self::Literal(_) => {}
            Self::Leaf(template) => all.push((path, template)),
            Self::List(items) => {
                for (index, item) in items.iter().enumerate() {
                    item.templates(format!("{path}[{index}]"), all);
                }
            }
            Self::Object(entries) => {
                for (key, item) in entries {
                    item.templates(key_path(&path, key), all);
                }
            }
        }
    }
}

/// Refuses a structure nested deeper than the parser reads (values built in code can be deeper).
fn check_depth(path: &str, depth: usize) -> Result<(), TemplateError> {
    if depth > MAX_STRUCTURE_DEPTH {
        let message = format!("lists and mappings nest more than {MAX_STRUCTURE_DEPTH} levels deep");
        return Err(TemplateError::InvalidResult { message }.in_field(path.to_owned()));
    }
    Ok(())
}

/// `path.key`, or `path['key']` when the key is not a plain name (as definition diagnostics write paths).
fn key_path(path: &str, key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (plain, path.is_empty()) {
        (true, true) => key.to_owned(),
        (true, false) => format!("{path}.{key}"),
        (false, _) => format!("{path}['{}']", key.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(body: Value, context: &TemplateContext) -> Result<Value, TemplateError> {
        let body: BodyTemplate = serde_json::from_value(body).expect("a body");
        let BodyTemplateCompiled::Structured(part) = BodyTemplateCompiled::compile(&body, TemplatePlace::JsonPayload)?
        else {
            panic!("structured");
        };
        part.render(context, &mut SecretSet::default(), &mut String::new())
    }

    #[test]
    fn leaves_render_to_strings_or_typed_values() {
        let context = TemplateContext::builder()
            .custom_field("Message", "say \"hi\"\nthen 👋 \\ {{not a template}}")
            .custom_field("Count", "41")
            .custom_field("Tags", "a,b")
            .custom_field("Json", r#"{"k":[1,true,null]}"#)
            .task(json!({"name": "Deploy", "duration": 30, "list": ["x", "y"]}))
            .build();
        let cases = [
            (
                json!({"text": "{{CustomField['Message']}}"}),
                json!({"text": "say \"hi\"\nthen 👋 \\ {{not a template}}"}),
            ),
            (json!({"n": "{{CustomField['Count'] | plus: 1}}"}), json!({"n": 42})),
            (json!({"n": "{{CustomField['Count']}}"}), json!({"n": "41"})),
            (json!({"n": "n={{CustomField['Count'] | plus: 1}}"}), json!({"n": "n=42"})),
            (json!({"d": "{{Task.duration}}"}), json!({"d": "30"})),
            (json!({"tags": "{{CustomField['Tags'] | split: ','}}"}), json!({"tags": ["a", "b"]})),
            (json!({"list": "{{Task.list | json}}"}), json!({"list": ["x", "y"]})),
            (json!({"list": "{{Task.list}}"}), json!({"list": "[\"x\",\"y\"]"})),
            (json!({"o": "{{CustomField['Json'] | parse_json}}"}), json!({"o": {"k": [1, true, null]}})),
            (json!({"size": "{{Task.name | size}}"}), json!({"size": 6})),
            (
                json!([1, true, null, "{{Task.name}}", [{"a b": "{{Task.name | upcase}}"}]]),
                json!([1, true, null, "Deploy", [{"a b": "DEPLOY"}]]),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(render(body.clone(), &context).unwrap(), expected, "{body}");
        }
    }

    #[test]
    fn errors_name_the_leaf_and_point_into_it() {
        let context = TemplateContext::builder().task(json!({"name": "x"})).build();
        let compile_error = render(json!({"blocks": [{"text": "ok {{Task.name"}]}), &context).unwrap_err();
        assert!(compile_error.to_string().starts_with("blocks[0].text: 1:4: unclosed `{{`"), "{compile_error}");
        let render_error = render(json!({"a b": {"n": "{{Task.nope}}"}}), &context).unwrap_err();
        assert!(render_error.to_string().starts_with("['a b'].n: 1:3: `Task.nope` is missing"), "{render_error}");
        let filter_error = render(json!({"n": "{{Task.name | plus: 1}}"}), &context).unwrap_err();
        assert!(filter_error.to_string().starts_with("n: 1:"), "{filter_error}");
    }

    #[test]
    fn nesting_is_bounded() {
        let mut deep = json!("{{Task.name}}");
        for _ in 0..=MAX_STRUCTURE_DEPTH {
            deep = json!([deep]);
        }
        let body = BodyTemplate::List(vec![deep]);
        let error = BodyTemplateCompiled::compile(&body, TemplatePlace::JsonPayload).unwrap_err();
        assert!(error.to_string().contains("nest more than 64 levels"), "{error}");
    }
}
