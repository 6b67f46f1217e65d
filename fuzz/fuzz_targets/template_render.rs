//! Fuzzes the template engine: arbitrary templates, places and values must never panic, and a template rendered in a
//! JSON place must give valid JSON or an error. The save-time checker and the redactor run on the same inputs.

#![no_main]

use arbitrary::Arbitrary;
use cutover_integrations_model::TemplateChecker;
use cutover_integrations_template::{Checker, Redactor, Template, TemplateContext, TemplatePlace};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Arbitrary)]
struct Input {
    place: u8,
    template: String,
    /// Text for `CustomField.a`, also used as a secret.
    text: String,
    /// JSON text for `CustomField['b c']` (a string when it is not JSON).
    value: String,
    number: f64,
    flag: bool,
    list: Vec<String>,
}

fn place(selector: u8) -> TemplatePlace {
    match selector % 5 {
        0 => TemplatePlace::JsonPayload,
        1 => TemplatePlace::JsonParams,
        2 => TemplatePlace::Url,
        3 => TemplatePlace::HeaderValue,
        _ => TemplatePlace::Text,
    }
}

/// Whether `text` is JSON, with no nesting limit (deep values in deep templates are valid JSON too).
fn is_json(text: &str) -> bool {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    serde::de::IgnoredAny::deserialize(&mut deserializer).and_then(|_| deserializer.end()).is_ok()
}

fuzz_target!(|input: Input| {
    let place = place(input.place);
    let _ = Checker.check(&input.template, place);
    let template = match Template::compile(&input.template, place) {
        Ok(template) => template,
        Err(error) => {
            // Our parser must refuse whatever handlebars would: a translation failure is a bug of ours.
            assert!(!error.message().contains("please report this as a bug"), "{error}");
            return;
        }
    };
    let value: Value = serde_json::from_str(&input.value).unwrap_or(Value::String(input.value.clone()));
    let context = TemplateContext::new(json!({
        "CustomField": {"a": input.text, "b c": value, "list": input.list},
        "Task": {"n": serde_json::Number::from_f64(input.number), "flag": input.flag, "name": "Task"},
        "Runbook": {"id": 1},
        "SystemParameter": {},
        "Callback": {},
    }));
    let Ok(output) = template.render(&context) else { return };
    if matches!(place, TemplatePlace::JsonPayload | TemplatePlace::JsonParams) {
        assert!(is_json(&output), "template {:?} rendered invalid JSON {output:?}", input.template);
    }
    if place == TemplatePlace::HeaderValue {
        assert!(!output.contains(['\r', '\n', '\0']), "a header value with a line break: {output:?}");
    }
    let _ = Redactor::new([input.text.as_str()]).redact(&output);
});
