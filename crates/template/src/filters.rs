//! The Liquid-style filters: names, arities, and what each does to a JSON value.
//!
//! Filters work on resolved values ([`serde_json::Value`]) and return values, so a chain keeps types: `plus` returns a
//! number that a bare JSON placeholder inserts as a number, `split` returns an array. A missing input passes through
//! every filter unchanged (and makes the placeholder fail) except `default`, which replaces it.

use crate::escape::{URL_COMPONENT, value_text};
use serde_json::Value;
use std::borrow::Cow;

/// A filter of the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FilterKind {
    Downcase,
    Upcase,
    Capitalize,
    Strip,
    Replace,
    Append,
    Prepend,
    Default,
    Plus,
    Minus,
    Times,
    DividedBy,
    Size,
    Join,
    Split,
    First,
    Last,
    UrlEncode,
    Date,
    Json,
    ParseJson,
}

const ALL: [FilterKind; 21] = [
    FilterKind::Downcase,
    FilterKind::Upcase,
    FilterKind::Capitalize,
    FilterKind::Strip,
    FilterKind::Replace,
    FilterKind::Append,
    FilterKind::Prepend,
    FilterKind::Default,
    FilterKind::Plus,
    FilterKind::Minus,
    FilterKind::Times,
    FilterKind::DividedBy,
    FilterKind::Size,
    FilterKind::Join,
    FilterKind::Split,
    FilterKind::First,
    FilterKind::Last,
    FilterKind::UrlEncode,
    FilterKind::Date,
    FilterKind::Json,
    FilterKind::ParseJson,
];

impl FilterKind {
    /// Every filter, in documentation order.
    pub(crate) fn all() -> &'static [FilterKind] {
        &ALL
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Downcase => "downcase",
            Self::Upcase => "upcase",
            Self::Capitalize => "capitalize",
            Self::Strip => "strip",
            Self::Replace => "replace",
            Self::Append => "append",
            Self::Prepend => "prepend",
            Self::Default => "default",
            Self::Plus => "plus",
            Self::Minus => "minus",
            Self::Times => "times",
            Self::DividedBy => "divided_by",
            Self::Size => "size",
            Self::Join => "join",
            Self::Split => "split",
            Self::First => "first",
            Self::Last => "last",
            Self::UrlEncode => "url_encode",
            Self::Date => "date",
            Self::Json => "json",
            Self::ParseJson => "parse_json",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the filter computes a value that is not text (a number, a list, any JSON value), which a structured
    /// body's leaf made of one placeholder ending in it inserts as that value.
    pub(crate) fn is_typed(self) -> bool {
        matches!(
            self,
            Self::Plus
                | Self::Minus
                | Self::Times
                | Self::DividedBy
                | Self::Size
                | Self::Split
                | Self::First
                | Self::Last
                | Self::Json
                | Self::ParseJson
        )
    }

    /// The handlebars helper that implements the filter.
    pub(crate) fn helper_name(self) -> String {
        format!("__f_{}", self.name())
    }

    /// `"downcase, upcase, …"` for error messages.
    pub(crate) fn list() -> String {
        ALL.map(|k| format!("`{}`", k.name())).join(", ")
    }

    /// The minimum and maximum number of arguments.
    pub(crate) fn arity(self) -> (usize, usize) {
        match self {
            Self::Replace => (2, 2),
            Self::Append | Self::Prepend | Self::Default | Self::Plus | Self::Minus | Self::Times | Self::DividedBy => {
                (1, 1)
            }
            Self::Split | Self::Date => (1, 1),
            Self::Join => (0, 1),
            _ => (0, 0),
        }
    }

    /// How the filter is written, for error messages.
    pub(crate) fn usage(self) -> &'static str {
        match self {
            Self::Replace => "replace: 'old', 'new'",
            Self::Append => "append: 'suffix'",
            Self::Prepend => "prepend: 'prefix'",
            Self::Default => "default: 'value'",
            Self::Plus => "plus: 1",
            Self::Minus => "minus: 1",
            Self::Times => "times: 2",
            Self::DividedBy => "divided_by: 2",
            Self::Split => "split: ','",
            Self::Join => "join: ', '",
            Self::Date => "date: '%Y-%m-%d'",
            Self::Downcase => "downcase",
            Self::Upcase => "upcase",
            Self::Capitalize => "capitalize",
            Self::Strip => "strip",
            Self::Size => "size",
            Self::First => "first",
            Self::Last => "last",
            Self::UrlEncode => "url_encode",
            Self::Json => "json",
            Self::ParseJson => "parse_json",
        }
    }

    /// Applies the filter to a present input. `default` is handled by [`apply_default`] because it also sees missing
    /// inputs. Errors are sentence fragments for [`crate::TemplateError::Filter`].
    pub(crate) fn apply(self, input: &Value, args: &[&Value]) -> Result<Value, String> {
        let text = || value_text(input);
        Ok(match self {
            Self::Downcase => Value::String(text().to_lowercase()),
            Self::Upcase => Value::String(text().to_uppercase()),
            Self::Capitalize => {
                let text = text();
                let mut chars = text.chars();
                Value::String(match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
                    None => String::new(),
                })
            }
            Self::Strip => Value::String(text().trim().to_owned()),
            Self::Replace => Value::String(text().replace(&*value_text(args[0]), &value_text(args[1]))),
            Self::Append => Value::String(format!("{}{}", text(), value_text(args[0]))),
            Self::Prepend => Value::String(format!("{}{}", value_text(args[0]), text())),
            Self::Default => apply_default(Some(input), args[0]),
            Self::Plus => arithmetic(input, args[0], Op::Plus)?,
            Self::Minus => arithmetic(input, args[0], Op::Minus)?,
            Self::Times => arithmetic(input, args[0], Op::Times)?,
            Self::DividedBy => arithmetic(input, args[0], Op::DividedBy)?,
            Self::Size => Value::from(match input {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::Null => 0,
                other => return Err(format!("needs text, a list or an object, got {}", describe(other))),
            }),
            Self::Join => {
                let separator = args.first().map_or(Cow::Borrowed(" "), |s| value_text(s));
                match input {
                    Value::Array(items) => {
                        Value::String(items.iter().map(value_text).collect::<Vec<_>>().join(&separator))
                    }
                    other => Value::String(value_text(other).into_owned()),
                }
            }
            Self::Split => {
                let text = text();
                let separator = value_text(args[0]);
                let parts: Vec<Value> = if text.is_empty() {
                    Vec::new()
                } else if separator.is_empty() {
                    text.chars().map(|c| Value::String(c.to_string())).collect()
                } else {
                    text.split(&*separator).map(|p| Value::String(p.to_owned())).collect()
                };
                Value::Array(parts)
            }
            Self::First | Self::Last => match input {
                Value::Array(items) => {
                    let item = if self == Self::First { items.first() } else { items.last() };
                    item.cloned().unwrap_or(Value::Null)
                }
                other => return Err(format!("needs a list, got {}", describe(other))),
            },
            Self::UrlEncode => Value::String(percent_encoding::utf8_percent_encode(&text(), URL_COMPONENT).to_string()),
            Self::Date => Value::String(crate::date::format(input, &value_text(args[0]))?),
            Self::Json => Value::String(input.to_string()),
            Self::ParseJson => {
                let text = text();
                serde_json::from_str(&text).map_err(|e| format!("the value is not JSON ({e})"))?
            }
        })
    }
}

/// `default`: the argument when the input is missing, null, false, or an empty text, list or object.
pub(crate) fn apply_default(input: Option<&Value>, fallback: &Value) -> Value {
    let empty = match input {
        None | Some(Value::Null | Value::Bool(false)) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    };
    if empty { fallback.clone() } else { input.cloned().unwrap_or(Value::Null) }
}

/// Describes a value's type for error messages, quoting short texts.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("the text {}", Value::String(s.clone())),
        Value::String(_) => "a long text".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[derive(Clone, Copy)]
enum Op {
    Plus,
    Minus,
    Times,
    DividedBy,
}

/// A number read from a value: JSON numbers, and texts that hold one (custom field values are texts).
#[derive(Clone, Copy)]
enum Number {
    Int(i64),
    Float(f64),
}

fn number(value: &Value, what: &str) -> Result<Number, String> {
    let parsed = match value {
        Value::Number(n) => n.as_i64().map(Number::Int).or_else(|| n.as_f64().map(Number::Float)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .map(Number::Int)
                .or_else(|| s.parse::<f64>().ok().filter(|f| f.is_finite()).map(Number::Float))
        }
        _ => None,
    };
    parsed.ok_or_else(|| format!("{what} must be a number, got {}", describe(value)))
}

fn arithmetic(input: &Value, arg: &Value, op: Op) -> Result<Value, String> {
    let left = number(input, "the value")?;
    let right = number(arg, "the argument")?;
    if matches!(op, Op::DividedBy) && matches!(right, Number::Int(0)) {
        return Err("division by zero".to_owned());
    }
    if let (Number::Int(a), Number::Int(b)) = (left, right) {
        let result = match op {
            Op::Plus => a.checked_add(b),
            Op::Minus => a.checked_sub(b),
            Op::Times => a.checked_mul(b),
            // Liquid divides integers by integers with the result rounded down.
            Op::DividedBy => a.checked_div(b).map(|q| if a % b != 0 && ((a < 0) != (b < 0)) { q - 1 } else { q }),
        };
        if let Some(result) = result {
            return Ok(Value::from(result));
        }
    }
    let as_float = |n: Number| match n {
        Number::Int(i) => i as f64,
        Number::Float(f) => f,
    };
    let (a, b) = (as_float(left), as_float(right));
    let result = match op {
        Op::Plus => a + b,
        Op::Minus => a - b,
        Op::Times => a * b,
        Op::DividedBy => {
            if b == 0.0 {
                return Err("division by zero".to_owned());
            }
            a / b
        }
    };
    serde_json::Number::from_f64(result)
        .map(Value::Number)
        .ok_or_else(|| "the result is not a finite number".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integer_division_rounds_down() {
        let cases = [(7, 2, 3), (-7, 2, -4), (7, -2, -4), (-7, -2, 3), (6, 3, 2)];
        for (a, b, expected) in cases {
            let result = FilterKind::DividedBy.apply(&json!(a), &[&json!(b)]).unwrap();
            assert_eq!(result, json!(expected), "{a} / {b}");
        }
    }

    #[test]
    fn integer_overflow_falls_back_to_floats() {
        let result = FilterKind::Plus.apply(&json!(i64::MAX), &[&json!(1)]).unwrap();
        assert!(result.is_f64());
    }
}
