//! Properties of the engine under arbitrary templates and values: JSON places render valid JSON or fail, values
//! round-trip through every escaper, header values never carry line breaks, redaction leaves no secret behind.

use cutover_integrations_template::{Redactor, SecretSet, Template, TemplateContext, TemplatePlace};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Fragments from which arbitrary (mostly broken) JSON templates are assembled.
const FRAGMENTS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    " ",
    "\n",
    "\\",
    "\\\"",
    "\\u00e9",
    "\\ud83c\\udf89",
    "\\ud800",
    "a",
    "1",
    "-",
    "true",
    "null",
    "{{CustomField.a}}",
    "{{CustomField['b c']}}",
    "{{ Task.n | plus: 1 }}",
    "{{CustomField.a | upcase | append: '\"'}}",
    "{{CustomField.missing | default: 'x'}}",
    "{{CustomField.missing}}",
    "{{CustomField.list | json}}",
    "{{CustomField.a | split: ','}}",
    "{{#if Task.flag}}",
    "{{else}}",
    "{{/if}}",
    "{{#each CustomField.list}}",
    "{{/each}}",
    "{{this}}",
    "{{@index}}",
    "{{!-- c --}}",
    "{{~ Task.n ~}}",
    "{{",
    "}}",
    "}}}",
    "{{{",
    "'",
    "é",
    "\u{0}",
    "\u{2028}",
    "{{ 007 | plus: 1. }}",
    "{{CustomField['a]}}b']}}",
    "{{CustomField[\"\\\"\"]}}",
    "{{ Task.n | default: 'a\\'b' }}",
    "{{#with Task}}{{n}}{{/with}}",
];

/// Any JSON value, a few levels deep, with arbitrary strings.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn context(a: String, bc: Value, n: Value, flag: bool, list: Vec<Value>) -> TemplateContext {
    TemplateContext::new(json!({
        "CustomField": {"a": a, "b c": bc, "list": list},
        "Task": {"n": n, "flag": flag},
    }))
}

fn json_place() -> impl Strategy<Value = TemplatePlace> {
    prop_oneof![Just(TemplatePlace::JsonPayload), Just(TemplatePlace::JsonParams)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The issue's property: a JSON-place render is valid JSON, or an error.
    #[test]
    fn json_place_renders_valid_json_or_fails(
        fragments in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..24),
        place in json_place(),
        a in any::<String>(),
        bc in json_value(),
        n in json_value(),
        flag in any::<bool>(),
        list in prop::collection::vec(json_value(), 0..3),
    ) {
        let source = fragments.concat();
        let compiled = Template::compile(&source, place);
        if let Err(error) = &compiled {
            prop_assert!(!error.message().contains("please report this as a bug"), "{source:?}: {error}");
        }
        if let Ok(template) = compiled
            && let Ok(output) = template.render(&context(a, bc, n, flag, list))
        {
            prop_assert!(
                serde_json::from_str::<Value>(&output).is_ok(),
                "template {source:?} rendered invalid JSON {output:?}"
            );
        }
    }
}

/// Text inside a JSON string: literal characters (escaped as JSON needs) and placeholders.
fn string_template() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[a-z \\\"é🎉]{0,3}".prop_map(|t| {
            let quoted = serde_json::to_string(&t).unwrap();
            quoted[1..quoted.len() - 1].to_owned()
        }),
        Just("{{CustomField.a}}".to_owned()),
        Just("{{CustomField['b c']}}".to_owned()),
        Just("{{Task.n | json}}".to_owned()),
        Just("{{CustomField.missing | default: '\\'' }}".to_owned()),
        Just("{{#if Task.flag}}{{CustomField.a}}{{else}}\\n{{/if}}".to_owned()),
        Just("{{#each CustomField.list}}{{this}},{{/each}}".to_owned()),
    ];
    prop::collection::vec(part, 0..4).prop_map(|parts| format!("\"{}\"", parts.concat()))
}

/// A JSON value written as a template.
fn json_template() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        string_template(),
        Just("{{CustomField['b c']}}".to_owned()),
        Just("{{ Task.n }}".to_owned()),
        Just("{{CustomField.list}}".to_owned()),
        Just("{{CustomField.a | split: ','}}".to_owned()),
        Just("-1.5e3".to_owned()),
        Just("null".to_owned()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((string_template(), inner.clone()), 0..4).prop_map(|members| {
                let members: Vec<String> = members.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{\n  {}\n}}", members.join(",\n  "))
            }),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{{{{#if Task.flag}}}}{a}{{{{else}}}}{b}{{{{/if}}}}")),
            Just("[{{#each CustomField.list}}{{this}}{{#unless @last}},{{/unless}}{{/each}}]".to_owned()),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Well-formed JSON templates (strings with placeholders, bare placeholders, blocks) always render, and render
    /// valid JSON, whatever the values.
    #[test]
    fn well_formed_json_templates_always_render_json(
        source in json_template(),
        a in any::<String>(),
        bc in json_value(),
        n in json_value(),
        flag in any::<bool>(),
        list in prop::collection::vec(json_value(), 0..3),
    ) {
        let template = Template::compile(&source, TemplatePlace::JsonPayload);
        prop_assert!(template.is_ok(), "{source:?}: {:?}", template.err());
        let output = template.unwrap().render(&context(a, bc, n, flag, list));
        prop_assert!(output.is_ok(), "{source:?}: {:?}", output.err());
        let output = output.unwrap();
        prop_assert!(serde_json::from_str::<Value>(&output).is_ok(), "{source:?} rendered {output:?}");
    }

    /// Any text placed inside a JSON string comes back unchanged from a JSON parser.
    #[test]
    fn strings_round_trip_through_json(a in any::<String>(), prefix in "[a-z \\\\]{0,3}") {
        let source = format!(r#"{{"k":"{}{{{{CustomField.a}}}}!"}}"#, prefix.replace('\\', "\\\\"));
        let template = Template::compile(&source, TemplatePlace::JsonPayload).unwrap();
        let output = template.render(&context(a.clone(), Value::Null, Value::Null, false, vec![])).unwrap();
        let parsed: Value = serde_json::from_str(&output).unwrap();
        let expected = format!("{prefix}{a}!");
        prop_assert_eq!(parsed["k"].as_str(), Some(expected.as_str()));
    }

    /// Any value standing alone in a JSON payload comes back as the same JSON value.
    #[test]
    fn bare_values_round_trip_through_json(value in json_value()) {
        let template = Template::compile(r#"{"v": {{CustomField['b c']}}, "w": [1, {{CustomField['b c']}}]}"#, TemplatePlace::JsonPayload).unwrap();
        prop_assert!(template.json_proven());
        let output = template.render(&context(String::new(), value.clone(), Value::Null, false, vec![])).unwrap();
        // Compared as text: serde_json's default float parsing is not exact, its writing is.
        prop_assert_eq!(output, format!(r#"{{"v": {value}, "w": [1, {value}]}}"#));
    }

    /// Any text in a URL path segment or query value stays in its component and decodes back to itself; values
    /// made only of dots, which would move up the path, are refused.
    #[test]
    fn url_components_hold_any_text(a in prop_oneof![any::<String>(), "[./]{0,3}"]) {
        let template = Template::compile("https://h.test/p/{{CustomField.a}}/x?q={{CustomField.a}}&r=1", TemplatePlace::Url).unwrap();
        let rendered = template.render(&context(a.clone(), Value::Null, Value::Null, false, vec![]));
        if !a.is_empty() && a.chars().all(|c| c == '.') {
            prop_assert!(rendered.is_err());
            return Ok(());
        }
        let output = rendered.unwrap();
        let url = url::Url::parse(&output).unwrap();
        let segments: Vec<_> = url.path_segments().unwrap().collect();
        prop_assert_eq!(segments.len(), 3);
        prop_assert_eq!(percent_encoding::percent_decode_str(segments[1]).decode_utf8().unwrap(), a.as_str());
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        prop_assert_eq!(query, vec![("q".to_owned(), a.clone()), ("r".to_owned(), "1".to_owned())]);
    }

    /// A rendered header value never holds CR, LF or NUL: such values are errors.
    #[test]
    fn header_values_never_break_lines(a in any::<String>()) {
        let template = Template::compile("Bearer {{CustomField.a}}", TemplatePlace::HeaderValue).unwrap();
        match template.render(&context(a.clone(), Value::Null, Value::Null, false, vec![])) {
            Ok(output) => prop_assert!(!output.contains(['\r', '\n', '\0'])),
            Err(_) => prop_assert!(a.contains(['\r', '\n', '\0'])),
        }
    }

    /// A secret rendered into a JSON payload, a URL or a header is gone after redaction.
    #[test]
    fn redaction_leaves_no_secret(secret in "\\PC{4,16}") {
        prop_assume!(!"[REDACTED]".contains(secret.as_str()) && !secret.contains("REDACTED"));
        let redactor = Redactor::new([secret.as_str()]);
        let cases = [
            (r#"{"token":"{{CustomField.a}}","again":"x{{CustomField.a}}y"}"#, TemplatePlace::JsonPayload),
            ("https://h.test/{{CustomField.a}}?k={{CustomField.a}}", TemplatePlace::Url),
            ("{{CustomField.a}}", TemplatePlace::Text),
        ];
        for (source, place) in cases {
            let template = Template::compile(source, place).unwrap();
            let output = template.render(&context(secret.clone(), Value::Null, Value::Null, false, vec![])).unwrap();
            let redacted = redactor.redact(&output);
            prop_assert!(!redacted.contains(secret.as_str()), "{source}: {redacted}");
            let escaped = serde_json::to_string(&secret).unwrap();
            prop_assert!(!redacted.contains(&escaped[1..escaped.len() - 1]), "{source}: {redacted}");
        }
    }

    /// A secret passed through any chain of filters is gone after redaction by the render's [`SecretSet`], in every
    /// place: neither the secret nor what the filters made of it remains.
    #[test]
    fn derived_secrets_leave_nothing_behind(
        secret in "[a-zA-Z0-9]{4,8}-[a-zA-Z0-9]{4,8}-[a-zA-Z0-9]{4,8}",
        chain in proptest::collection::vec(0usize..8, 1..4),
    ) {
        const FILTERS: [&str; 8] = [
            "upcase", "downcase", "capitalize", "replace: '-', '_'", "split: '-' | join: '+'", "url_encode",
            "append: '!'", "prepend: 'x'",
        ];
        let filters: Vec<&str> = chain.iter().map(|&index| FILTERS[index]).collect();
        let expression = format!("SystemParameter.key | {}", filters.join(" | "));
        let context = TemplateContext::builder().secret_system_parameter("key", secret.clone()).build();
        // What the chain makes of the secret, without taint: the forms that must not remain.
        let plain = TemplateContext::builder().system_parameter("key", secret.clone()).build();
        let derived = Template::compile(&format!("{{{{{expression}}}}}"), TemplatePlace::Text)
            .unwrap()
            .render(&plain)
            .unwrap();
        let cases = [
            (format!(r#"{{"k":"{{{{{expression}}}}}"}}"#), TemplatePlace::JsonPayload),
            (format!("https://h.test/{{{{{expression}}}}}?q={{{{{expression}}}}}"), TemplatePlace::Url),
            (format!("v={{{{{expression}}}}};"), TemplatePlace::HeaderValue),
        ];
        for (source, place) in cases {
            let template = Template::compile(&source, place).unwrap();
            let mut secrets = SecretSet::new(context.secrets().iter().cloned());
            let output = template.render_tracked(&context, &mut secrets).unwrap();
            let redacted = secrets.redactor().redact(&output).into_owned();
            prop_assert!(!redacted.contains(secret.as_str()), "{source}: {redacted}");
            prop_assert!(!redacted.contains(derived.as_str()), "{source}: {redacted} still holds {derived}");
            prop_assert!(redacted.contains("[REDACTED]"), "{source}: {redacted}");
        }
    }
}
