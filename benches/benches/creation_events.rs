//! What a runbook's creation events cost as the runbook grows: the engine's whole creation of a runbook of N tasks
//! against the store's write of the same number of rows with no creation event, with the task ids inline in one
//! `runbook_created` (the form logged before the list was split) and with the bounded `tasks_created` parts, in the
//! same run. (with events − without) / engine creation is the events' share of a creation; the setup prints each
//! form's largest logged body, which is what one SSE message of `/events` carries.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};
use cutover_integrations_core::store::{NewRunbook, Sealer, SqlStore, SqlStoreOptions, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[allow(dead_code, reason = "this bench uses only the engine setup and the runbooks of the shared support")]
mod support;
use support::{runbook, setup};

/// The bytes of ids one `tasks_created` part lists at most (the engine's bound).
const PART_BYTES: usize = 16 * 1024;

/// The creation's logged bodies, each form.
fn bodies(ids: &[String], split: bool) -> Vec<String> {
    if !split {
        return vec![json!({"event": "runbook_created", "actor": "user", "tasks": ids}).to_string()];
    }
    let mut bodies = vec![json!({"event": "runbook_created", "actor": "user", "task_count": ids.len()}).to_string()];
    let mut part: Vec<&str> = Vec::new();
    let mut bytes = 0;
    for id in ids {
        if !part.is_empty() && bytes + id.len() > PART_BYTES {
            bodies.push(json!({"event": "tasks_created", "actor": "user", "tasks": part}).to_string());
            part.clear();
            bytes = 0;
        }
        bytes += id.len();
        part.push(id);
    }
    if !part.is_empty() {
        bodies.push(json!({"event": "tasks_created", "actor": "user", "tasks": part}).to_string());
    }
    bodies
}

fn creation_events(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let setup = runtime.block_on(setup());
    let dir = tempfile::tempdir().expect("temporary directory");
    let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([7u8; 32])))) as Arc<dyn Sealer>;
    let url = format!("sqlite://{}", dir.path().join("creation.db").display());
    let store = runtime.block_on(SqlStore::connect(SqlStoreOptions::new(&url), cipher)).expect("store");
    let mut group = c.benchmark_group("runbook_creation");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let sizes: Vec<usize> = std::env::var("CREATION_SIZES")
        .ok()
        .map(|text| text.split(',').filter_map(|size| size.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000]);
    for count in sizes {
        let definition = runbook(count, false);
        let ids: Vec<String> = definition.tasks.iter().map(|task| task.id.clone()).collect();
        let document = json!({"runbook": {"name": "Bench", "tasks": ids}, "plan": {"tasks": ids}}).to_string();
        let states: Vec<String> = (0..count)
            .map(|n| json!({"id": format!("t{n}"), "stage": "startable", "status": "none", "fires": []}).to_string())
            .collect();
        let state = json!({"version": 1, "stage": "planning", "mode": null}).to_string();
        let inline = bodies(&ids, false);
        let parts = bodies(&ids, true);
        let largest = |bodies: &[String]| bodies.iter().map(String::len).max().unwrap_or(0);
        eprintln!(
            "{count} tasks: inline runbook_created {} bytes; split: {} events, the largest {} bytes",
            largest(&inline),
            parts.len(),
            largest(&parts)
        );
        group.bench_function(BenchmarkId::new("engine", count), |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iterations {
                        setup.engine.create_runbook(definition.clone()).await.expect("created");
                    }
                    started.elapsed()
                })
            });
        });
        for (name, events) in
            [("store_no_events", &[][..]), ("store_inline_list", &inline[..]), ("store_parts", &parts[..])]
        {
            let new = NewRunbook { name: "Bench", definition: &document, state: &state, tasks: &states, events };
            group.bench_function(BenchmarkId::new(name, count), |b| {
                b.iter_custom(|iterations| {
                    runtime.block_on(async {
                        let started = Instant::now();
                        for _ in 0..iterations {
                            store.create_runbook(&new, 1).await.expect("written");
                        }
                        started.elapsed()
                    })
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, creation_events);
criterion_main!(benches);
