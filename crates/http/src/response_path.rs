//! Paths into JSON response bodies: RFC 9535 JSONPath and Cutover's dotted form, conditions, and field mapping.
//!
//! A path that starts with `$` is JSONPath as RFC 9535 defines it. Anything else is Cutover's dotted form
//! (`result.number`, `items[0].id`, `data.display-name`), rewritten to the JSONPath that means the same
//! (`$['result']['number']`, `$['items'][0]['id']`) before parsing, so both forms share one evaluator.

use cutover_integrations_model::{Condition, ConditionTest, FieldValue};
use serde_json::Value;
use serde_json_path::JsonPath;
use std::fmt;

/// A parsed response path, remembering how the user wrote it.
#[derive(Debug, Clone)]
pub struct ResponsePath {
    written: String,
    path: JsonPath,
}

impl ResponsePath {
    /// Parses JSONPath (`$…`) or the dotted form; the error says what is wrong with the path.
    pub fn parse(written: &str) -> Result<Self, String> {
        let trimmed = written.trim();
        let json_path = if trimmed.starts_with('$') { trimmed.to_owned() } else { dotted_to_json_path(trimmed)? };
        let path = JsonPath::parse(&json_path).map_err(|error| error.to_string())?;
        Ok(Self { written: written.to_owned(), path })
    }

    /// The path as the user wrote it.
    pub fn as_written(&self) -> &str {
        &self.written
    }

    /// The value the path selects: the node itself when it selects one, an array of them when it selects several,
    /// `None` when it selects nothing.
    pub fn select(&self, body: &Value) -> Option<Value> {
        let nodes = self.path.query(body).all();
        match nodes.as_slice() {
            [] => None,
            [one] => Some((*one).clone()),
            many => Some(Value::Array(many.iter().map(|node| (*node).clone()).collect())),
        }
    }
}

impl fmt::Display for ResponsePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

/// A [`Condition`] with its path parsed.
#[derive(Debug, Clone)]
pub struct ResponseCondition {
    path: ResponsePath,
    test: ConditionTest,
}

impl ResponseCondition {
    /// Parses the condition's path.
    pub fn parse(condition: &Condition) -> Result<Self, String> {
        Ok(Self { path: ResponsePath::parse(&condition.path)?, test: condition.test.clone() })
    }

    /// Whether the condition holds on `body`.
    ///
    /// `equals` and `in` compare leniently: numbers by value (`1` equals `1.0`), and a string equals a number or
    /// boolean whose text it is (`"3"` equals `3`), because definitions written in YAML often quote what the API
    /// returns unquoted. A path that selects nothing satisfies neither.
    pub fn holds(&self, body: &Value) -> bool {
        let selected = self.path.select(body);
        match (&self.test, selected) {
            (ConditionTest::Exists(expected), selected) => selected.is_some() == *expected,
            (ConditionTest::Equals(expected), Some(value)) => loosely_equal(&value, expected),
            (ConditionTest::In(options), Some(value)) => options.iter().any(|option| loosely_equal(&value, option)),
            (_, None) => false,
        }
    }

    /// The condition in words, such as "`status` equals \"done\"", for failure reasons.
    pub fn describe(&self) -> String {
        match &self.test {
            ConditionTest::Equals(value) => format!("`{}` equals {value}", self.path),
            ConditionTest::In(values) => format!("`{}` is one of {}", self.path, Value::Array(values.clone())),
            ConditionTest::Exists(true) => format!("`{}` exists", self.path),
            ConditionTest::Exists(false) => format!("`{}` does not exist", self.path),
        }
    }

    /// What the path selects in `body`, in words, for failure reasons.
    pub fn found(&self, body: &Value) -> String {
        match self.path.select(body) {
            Some(value) => format!("`{}` is {}", self.path, value),
            None => format!("`{}` matches nothing", self.path),
        }
    }
}

/// One entry of a response map: a custom field filled from a path.
#[derive(Debug, Clone)]
pub struct FieldMapping {
    /// The custom field name.
    pub field: String,
    /// Where its value comes from.
    pub path: ResponsePath,
}

impl FieldMapping {
    /// The custom field value at the path, or `None` when the path selects nothing.
    ///
    /// Strings are taken as they are, numbers and booleans as their text, `null` as empty text; an array of scalars
    /// (or a path selecting several scalars) becomes a list; objects and anything else become their JSON text.
    pub fn extract(&self, body: &Value) -> Option<FieldValue> {
        self.path.select(body).map(|value| field_value(&value))
    }
}

/// Converts a JSON value to a custom field value, as [`FieldMapping::extract`] describes.
pub(crate) fn field_value(value: &Value) -> FieldValue {
    match value {
        Value::Array(items) if items.iter().all(is_scalar) => FieldValue::List(items.iter().map(scalar_text).collect()),
        value if is_scalar(value) => FieldValue::Text(scalar_text(value)),
        other => FieldValue::Text(other.to_string()),
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn loosely_equal(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64().zip(b.as_f64()).is_some_and(|(a, b)| a == b),
        (Value::String(text), Value::Bool(flag)) | (Value::Bool(flag), Value::String(text)) => {
            text.trim() == if *flag { "true" } else { "false" }
        }
        (Value::String(text), Value::Number(number)) | (Value::Number(number), Value::String(text)) => {
            text.trim().parse::<f64>().ok().zip(number.as_f64()).is_some_and(|(a, b)| a == b)
        }
        (a, b) => a == b,
    }
}

/// Rewrites `a.b[0].c` to `$['a']['b'][0]['c']`; bracket selectors (`[0]`, `[*]`, `['x']`, `[-1]`) pass through.
fn dotted_to_json_path(dotted: &str) -> Result<String, String> {
    if dotted.is_empty() {
        return Err("the path is empty".to_owned());
    }
    let mut json_path = String::from("$");
    let mut name = String::new();
    let mut chars = dotted.char_indices().peekable();
    let flush = |name: &mut String, json_path: &mut String| {
        if !name.is_empty() {
            json_path.push_str("['");
            for c in name.chars() {
                if c == '\'' || c == '\\' {
                    json_path.push('\\');
                }
                json_path.push(c);
            }
            json_path.push_str("']");
            name.clear();
        }
    };
    let mut expect_name = true;
    while let Some((index, c)) = chars.next() {
        match c {
            '.' => {
                if expect_name && name.is_empty() {
                    return Err(format!("empty name before `.` at character {}", index + 1));
                }
                flush(&mut name, &mut json_path);
                expect_name = true;
                if chars.peek().is_none() {
                    return Err("the path ends with `.`".to_owned());
                }
            }
            '[' => {
                flush(&mut name, &mut json_path);
                let mut selector = String::from("[");
                let mut quote = None;
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    selector.push(c);
                    match (quote, c) {
                        (None, '\'' | '"') => quote = Some(c),
                        (Some(open), c) if c == open => quote = None,
                        (None, ']') => {
                            closed = true;
                            break;
                        }
                        _ => {}
                    }
                }
                if !closed {
                    return Err(format!("`[` at character {} is not closed", index + 1));
                }
                json_path.push_str(&selector);
                expect_name = false;
            }
            c => {
                name.push(c);
                expect_name = false;
            }
        }
    }
    flush(&mut name, &mut json_path);
    Ok(json_path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_form_means_the_same_as_json_path() {
        let cases = [
            ("result.number", Ok("$['result']['number']")),
            ("items[0].id", Ok("$['items'][0]['id']")),
            ("items[*].id", Ok("$['items'][*]['id']")),
            ("data.display-name", Ok("$['data']['display-name']")),
            ("a['b.c'].d", Ok("$['a']['b.c']['d']")),
            ("it's", Ok("$['it\\'s']")),
            ("[0].id", Ok("$[0]['id']")),
            ("", Err("the path is empty")),
            ("a..b", Err("empty name before `.` at character 3")),
            ("a.", Err("the path ends with `.`")),
            ("a[0", Err("`[` at character 2 is not closed")),
        ];
        for (dotted, expected) in cases {
            assert_eq!(dotted_to_json_path(dotted).as_deref(), expected.map_err(str::to_owned).as_deref(), "{dotted}");
        }
    }

    #[test]
    fn paths_select_nodes_in_both_forms() {
        let body = json!({"result": {"number": "CHG1", "items": [{"id": 1}, {"id": 2}]}, "a-b": true});
        let cases = [
            ("$.result.number", Some(json!("CHG1"))),
            ("result.number", Some(json!("CHG1"))),
            ("result.items[1].id", Some(json!(2))),
            ("$.result.items[*].id", Some(json!([1, 2]))),
            ("result.items[*].id", Some(json!([1, 2]))),
            ("a-b", Some(json!(true))),
            ("result.missing", None),
            ("$.result.items[?@.id > 1].id", Some(json!(2))),
        ];
        for (path, expected) in cases {
            assert_eq!(ResponsePath::parse(path).unwrap().select(&body), expected, "{path}");
        }
    }

    #[test]
    fn invalid_json_path_is_an_error() {
        assert!(ResponsePath::parse("$.a[").is_err());
        assert!(ResponsePath::parse("$$").is_err());
    }

    #[test]
    fn conditions_hold_leniently() {
        let body = json!({"state": "closed", "code": 3, "ok": true, "ratio": 1.0, "none": null, "tags": ["a", "b"]});
        let cases = [
            ("state", ConditionTest::Equals(json!("closed")), true),
            ("state", ConditionTest::Equals(json!("open")), false),
            ("code", ConditionTest::Equals(json!(3)), true),
            ("code", ConditionTest::Equals(json!("3")), true),
            ("code", ConditionTest::Equals(json!(3.0)), true),
            ("ratio", ConditionTest::Equals(json!(1)), true),
            ("ok", ConditionTest::Equals(json!("true")), true),
            ("ok", ConditionTest::Equals(json!(false)), false),
            ("none", ConditionTest::Equals(json!(null)), true),
            ("tags", ConditionTest::Equals(json!(["a", "b"])), true),
            ("state", ConditionTest::In(vec![json!("open"), json!("closed")]), true),
            ("state", ConditionTest::In(vec![json!("open")]), false),
            ("missing", ConditionTest::Equals(json!(null)), false),
            ("missing", ConditionTest::In(vec![json!(null)]), false),
            ("state", ConditionTest::Exists(true), true),
            ("missing", ConditionTest::Exists(true), false),
            ("missing", ConditionTest::Exists(false), true),
            ("none", ConditionTest::Exists(false), false),
        ];
        for (path, test, expected) in cases {
            let condition = ResponseCondition::parse(&Condition { path: path.to_owned(), test: test.clone() }).unwrap();
            assert_eq!(condition.holds(&body), expected, "{path} {test:?}");
        }
    }

    #[test]
    fn mapping_converts_values_to_custom_field_values() {
        let body = json!({"n": 42, "s": "x", "b": false, "z": null, "list": ["a", 1, true], "obj": {"k": "v"},
            "mixed": [{"k": 1}], "items": [{"id": "a"}, {"id": "b"}]});
        let cases = [
            ("n", Some(FieldValue::Text("42".into()))),
            ("s", Some(FieldValue::Text("x".into()))),
            ("b", Some(FieldValue::Text("false".into()))),
            ("z", Some(FieldValue::Text(String::new()))),
            ("list", Some(FieldValue::List(vec!["a".into(), "1".into(), "true".into()]))),
            ("obj", Some(FieldValue::Text("{\"k\":\"v\"}".into()))),
            ("mixed", Some(FieldValue::Text("[{\"k\":1}]".into()))),
            ("items[*].id", Some(FieldValue::List(vec!["a".into(), "b".into()]))),
            ("$.items[1].id", Some(FieldValue::Text("b".into()))),
            ("nothing", None),
        ];
        for (path, expected) in cases {
            let mapping = FieldMapping { field: "F".into(), path: ResponsePath::parse(path).unwrap() };
            assert_eq!(mapping.extract(&body), expected, "{path}");
        }
    }
}
