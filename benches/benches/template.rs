//! The Slack payload rendered by our engine against plain handlebars rendering the equivalent template, in one run.
//!
//! - `ours`: `Template::render` of the Cutover payload (JSON place: every value JSON-escaped inside its string).
//! - `handlebars_html_escape`: a default `Handlebars` registry (HTML escaping) rendering the equivalent template
//!   (`{{CustomField.[Slack Channel]}}`), from a context converted once, as a user of plain handlebars would.
//! - `handlebars_no_escape`: the same with escaping off, the cheapest handlebars can do (and unsafe for JSON).
//! - `ours_json_checked`: a payload with a block, whose JSON validity is checked after every render.
//!
//! The ratio reported is `ours / handlebars_html_escape` (goal ≤ 1.2); `ours / handlebars_no_escape` is the floor.

use criterion::{Criterion, criterion_group, criterion_main};
use cutover_integrations_model::TemplatePlace;
use cutover_integrations_template::{Template, TemplateContext};
use handlebars::Handlebars;
use serde_json::json;
use std::hint::black_box;

const SLACK_PAYLOAD: &str =
    r#"{"channel":"{{CustomField['Slack Channel']}}","text":"{{CustomField['Slack Message']}}"}"#;
const HANDLEBARS_PAYLOAD: &str =
    r#"{"channel":"{{CustomField.[Slack Channel]}}","text":"{{CustomField.[Slack Message]}}"}"#;
const CHECKED_PAYLOAD: &str = r#"{"channel":"{{CustomField['Slack Channel']}}","text":"{{CustomField['Slack Message']}}"{{#if Task.name}},"task":"{{Task.name}}"{{/if}}}"#;

fn context_data() -> serde_json::Value {
    json!({
        "CustomField": {"Slack Channel": "#release", "Slack Message": "Release 42 \"starts\" now\nStand by."},
        "Task": {"id": "announce", "name": "Announce the start"},
        "Runbook": {"id": 42, "name": "Release 42"},
        "SystemParameter": {},
        "Callback": {}
    })
}

fn slack_payload(c: &mut Criterion) {
    let data = context_data();
    let ours = Template::compile(SLACK_PAYLOAD, TemplatePlace::JsonPayload).expect("the Slack payload compiles");
    assert!(ours.json_proven());
    let checked = Template::compile(CHECKED_PAYLOAD, TemplatePlace::JsonPayload).expect("the checked payload compiles");
    assert!(!checked.json_proven());
    let context = TemplateContext::new(data.clone());

    let mut html = Handlebars::new();
    html.register_template_string("slack", HANDLEBARS_PAYLOAD).expect("handlebars compiles the payload");
    let mut raw = Handlebars::new();
    raw.register_escape_fn(handlebars::no_escape);
    raw.register_template_string("slack", HANDLEBARS_PAYLOAD).expect("handlebars compiles the payload");
    let handlebars_context = handlebars::Context::from(data);

    // The outputs differ only in escaping: ours is valid JSON.
    let rendered = ours.render(&context).expect("renders");
    serde_json::from_str::<serde_json::Value>(&rendered).expect("our output is JSON");

    let mut group = c.benchmark_group("slack_payload");
    group.bench_function("ours", |b| b.iter(|| ours.render(black_box(&context)).expect("renders")));
    group.bench_function("handlebars_html_escape", |b| {
        b.iter(|| html.render_with_context("slack", black_box(&handlebars_context)).expect("renders"))
    });
    group.bench_function("handlebars_no_escape", |b| {
        b.iter(|| raw.render_with_context("slack", black_box(&handlebars_context)).expect("renders"))
    });
    group.bench_function("ours_json_checked", |b| b.iter(|| checked.render(black_box(&context)).expect("renders")));
    group.finish();
}

criterion_group!(benches, slack_payload);
criterion_main!(benches);
