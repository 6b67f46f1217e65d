//! Template checking scales linearly: checking a payload of 80,000 placeholders against checking one of 8,000, in one
//! run (goal: the ratio `check/80000 ÷ check/8000` at most 12, where linear is 10).
//!
//! - `check`: `Checker::check` (what validation runs on every template): parse, escaping analysis, translation to
//!   handlebars, the JSON validity proof with sample values, and the custom field references with their positions.
//! - `check_blocks`: the same placeholders inside an `#each` block, whose body is compiled in pieces and spliced.
//! - `render`: rendering the compiled payload once compiled.
//!
//! Sizes: 8,000 and 80,000 placeholders (about 0.3 MB and 3 MB of template).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use cutover_integrations_template::{Checker, Template, TemplateChecker, TemplateContext, TemplatePlace};
use serde_json::json;
use std::fmt::Write;
use std::hint::black_box;

/// A JSON payload of `count` placeholders, each inside its own string, on lines of ten.
fn payload(count: usize) -> String {
    let mut text = String::from("{");
    for index in 0..count {
        let separator = if index == 0 { "" } else { "," };
        let newline = if index % 10 == 0 { "\n" } else { "" };
        write!(text, "{separator}{newline}\"k{index}\":\"{{{{CustomField['Field {}']}}}}\"", index % 50).unwrap();
    }
    text.push_str("\n}");
    text
}

/// The same placeholders as the elements of a list written by an `#each` block.
fn each_payload(count: usize) -> String {
    let mut body = String::new();
    for index in 0..count {
        write!(body, "\"{{{{CustomField['Field {}']}}}}\",", index % 50).unwrap();
    }
    format!("{{\"rows\": [{{{{#each Task.rows}}}}[{body}\"{{{{this}}}}\"],{{{{/each}}}}[]]}}")
}

fn bench_check(c: &mut Criterion) {
    let sizes = [8_000, 80_000];
    let mut group = c.benchmark_group("template_check");
    group.sample_size(10);
    for size in sizes {
        let text = payload(size);
        let report = Checker.check(&text, TemplatePlace::JsonPayload);
        assert!(report.problems.is_empty(), "{:?}", report.problems.first());
        assert_eq!(report.custom_fields.len(), size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("check", size), &text, |b, text| {
            b.iter(|| Checker.check(black_box(text), TemplatePlace::JsonPayload))
        });

        let blocks = each_payload(size);
        assert!(Checker.check(&blocks, TemplatePlace::JsonPayload).problems.is_empty());
        group.bench_with_input(BenchmarkId::new("check_blocks", size), &blocks, |b, text| {
            b.iter(|| Checker.check(black_box(text), TemplatePlace::JsonPayload))
        });

        let template = Template::compile(&text, TemplatePlace::JsonPayload).expect("compiles");
        let fields: serde_json::Map<String, serde_json::Value> =
            (0..50).map(|index| (format!("Field {index}"), json!(format!("value \"{index}\"")))).collect();
        let context = TemplateContext::new(json!({"CustomField": fields}));
        group.bench_with_input(BenchmarkId::new("render", size), &context, |b, context| {
            b.iter(|| template.render(black_box(context)).expect("renders"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
