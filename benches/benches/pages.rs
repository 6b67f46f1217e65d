//! A page of 50 runbook summaries out of 100,000 stored runbooks (SQLite, the embedded default): the first page, a
//! page from the middle (a cursor), and a page filtered by stage (one runbook in ten matches).
//!
//! Baseline, in the same run: the same pages out of 1,000 runbooks. Keyset paging should cost the same at both sizes
//! (a ratio near 1); the filtered page reads documents until it has 50 matches, so it stays near constant too while
//! matches are common.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};
use cutover_integrations_core::model::RunbookStage;
use cutover_integrations_core::store::{NewRunbook, RunbookId, RunbookQuery, Sealer, SqlStore, SqlStoreOptions, Store};
use serde_json::json;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

const PAGE: u32 = 50;

/// A store holding `count` runbooks of 5 tasks; every tenth is active.
async fn store_with(count: usize, dir: &std::path::Path) -> SqlStore {
    let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([7u8; 32])))) as Arc<dyn Sealer>;
    let url = format!("sqlite://{}", dir.join(format!("pages-{count}.db")).display());
    let store = SqlStore::connect(SqlStoreOptions::new(&url), cipher).await.expect("store");
    let tasks: Vec<_> = (0..5).map(|n| json!({"id": format!("t{n}"), "name": format!("Task {n}")})).collect();
    let task_states: Vec<String> =
        (0..5).map(|_| json!({"stage": "startable", "status": "none"}).to_string()).collect();
    for n in 0..count {
        let name = format!("Release {n}");
        let definition =
            json!({"runbook": {"name": name, "workspace": "ops", "tasks": tasks}, "plan": {"tasks": tasks}})
                .to_string();
        let stage = if n % 10 == 0 { "active" } else { "planning" };
        let state = json!({"version": 1, "stage": stage, "mode": null}).to_string();
        let new = NewRunbook { name: &name, definition: &definition, state: &state, tasks: &task_states, events: &[] };
        store.create_runbook(&new, 1).await.expect("runbook");
    }
    store
}

fn pages(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut group = c.benchmark_group("runbook page of 50");
    group.sample_size(200).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for count in [1_000usize, 100_000] {
        let store = runtime.block_on(store_with(count, dir.path()));
        let queries = [
            ("first", RunbookQuery { limit: PAGE, ..RunbookQuery::default() }),
            (
                "middle",
                RunbookQuery { limit: PAGE, after: Some(RunbookId(count as i64 / 2)), ..RunbookQuery::default() },
            ),
            ("active", RunbookQuery { limit: PAGE, stage: Some(RunbookStage::Active), ..RunbookQuery::default() }),
        ];
        for (name, query) in queries {
            group.bench_with_input(BenchmarkId::new(name, count), &query, |b, query| {
                b.iter(|| {
                    let page = runtime.block_on(store.runbook_page(black_box(query))).expect("page");
                    assert_eq!(page.runbooks.len(), PAGE as usize);
                    page
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pages);
criterion_main!(benches);
