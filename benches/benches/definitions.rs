//! Reading definition files: our validating parser against serde's derived deserializers on the same text.
//!
//! The parser builds a positioned tree, reads it while collecting every error, records where each value sits, and
//! runs the validation rules (names, references, templates, the task graph). The baseline, in the same run, is what
//! reading costs without any of that: `serde_saphyr::from_str` (YAML) and `serde_json::from_str` (JSON) into the same
//! types. The ratio is the price of complete, positioned diagnostics. Inputs: the webhook example (every execution
//! mode, templates) and a generated runbook of 10,000 tasks (a chain of fan-outs and fan-ins).
//!
//! `definitions_100k` reads one runbook of 100,000 tasks (the size `POST /runbooks` must create in 3 s) written as JSON
//! and as YAML: JSON files are read by a JSON reader that builds the same positioned tree the YAML parser builds, so
//! the ratio JSON / YAML in the same run shows what that reader saves (JSON went through the YAML parser before).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use cutover_integrations_model::{Definition, SourceFile, Validator};
use std::fmt::Write;
use std::hint::black_box;

const WEBHOOK: &str = include_str!("../../examples/webhook.yaml");

/// A runbook of `size` tasks: groups of ten, each task waiting for the whole previous group.
fn large_runbook(size: usize) -> String {
    let mut text = String::from("kind: runbook\nname: Large\ncustom_fields: {Change Number: CHG1}\ntasks:\n");
    for index in 0..size {
        let group = index / 10;
        write!(text, "  - id: t{index}\n    name: Task {index}\n").unwrap();
        if group > 0 {
            let previous: Vec<String> = ((group - 1) * 10..group * 10).map(|p| format!("t{p}")).collect();
            writeln!(text, "    predecessors: [{}]", previous.join(", ")).unwrap();
        }
    }
    text
}

fn ours(name: &str, text: &str) -> Definition {
    Validator::new().parse(&SourceFile::new(name, text)).expect("valid").into_definition()
}

fn bench_definitions(c: &mut Criterion) {
    let webhook_yaml = WEBHOOK.to_owned();
    let webhook_json = ours("webhook.yaml", WEBHOOK).to_json().expect("JSON");
    let runbook_yaml = large_runbook(10_000);
    let inputs =
        [("webhook.yaml", &webhook_yaml), ("webhook.json", &webhook_json), ("runbook-10k.yaml", &runbook_yaml)];

    let mut group = c.benchmark_group("definitions");
    for (name, text) in inputs {
        // Both readers must agree before their speed is compared.
        let baseline_value: Definition = if name.ends_with(".json") {
            serde_json::from_str(text).expect("serde_json reads it")
        } else {
            serde_saphyr::from_str(text).expect("serde-saphyr reads it")
        };
        assert_eq!(ours(name, text), baseline_value, "{name}");

        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("validating_parser", name), text, |b, text| {
            b.iter(|| ours(name, black_box(text)))
        });
        group.bench_with_input(BenchmarkId::new("baseline_serde", name), text, |b, text| {
            b.iter(|| -> Definition {
                if name.ends_with(".json") {
                    serde_json::from_str(black_box(text)).expect("valid")
                } else {
                    serde_saphyr::from_str(black_box(text)).expect("valid")
                }
            })
        });
    }
    group.finish();
}

fn bench_large_runbook(c: &mut Criterion) {
    let yaml = large_runbook(100_000);
    let json = ours("runbook-100k.yaml", &yaml).to_json().expect("JSON");
    assert_eq!(ours("runbook-100k.json", &json), ours("runbook-100k.yaml", &yaml));
    let mut group = c.benchmark_group("definitions_100k");
    group.sample_size(10);
    for (name, text) in [("runbook-100k.json", &json), ("runbook-100k.yaml", &yaml)] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("validating_parser", name), text, |b, text| {
            b.iter(|| ours(name, black_box(text)))
        });
    }
    group.bench_with_input(BenchmarkId::new("baseline_serde", "runbook-100k.json"), &json, |b, text| {
        b.iter(|| -> Definition { serde_json::from_str(black_box(text)).expect("valid") })
    });
    group.finish();
}

criterion_group!(benches, bench_definitions, bench_large_runbook);
criterion_main!(benches);
