//! Pages of runbooks on SQLite and PostgreSQL: filters by stage, mode, workspace and name read the stored documents
//! alike on both, and following the pages visits every matching runbook once, in id order.

use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};
use cutover_integrations_model::{RunMode, RunbookStage};
use cutover_integrations_store::{
    NewRunbook, ReplacedRunbook, RunbookId, RunbookQuery, Sealer, SqlStore, SqlStoreOptions, Store,
};
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
use serde_json::json;
use std::sync::Arc;

async fn stores(test: &str, dir: &std::path::Path) -> Vec<SqlStore> {
    let cipher = || Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([7u8; 32])))) as Arc<dyn Sealer>;
    let mut urls = vec![fresh_sqlite_url(dir)];
    urls.extend(fresh_postgres_url(test).await);
    let mut stores = Vec::new();
    for url in urls {
        stores.push(SqlStore::connect(SqlStoreOptions::new(&url), cipher()).await.expect("store"));
    }
    stores
}

/// (name, workspace, stage, mode) of the runbooks stored, ids 1 to 8.
const RUNBOOKS: [(&str, Option<&str>, &str, Option<&str>); 8] = [
    ("Release 1", None, "planning", None),
    ("Release 2", Some("ops"), "active", Some("live")),
    ("release 3", Some("ops"), "active", Some("rehearsal")),
    ("DB failover", Some("dba"), "paused", Some("live")),
    ("50%_done", None, "complete", Some("live")),
    ("Ünïcode Release", Some("ops"), "cancelled", Some("rehearsal")),
    ("Release 7", Some("ops"), "planning", None),
    ("Other", Some("ops "), "active", Some("live")),
];

fn query(limit: u32) -> RunbookQuery {
    RunbookQuery { limit, ..RunbookQuery::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_pages_agree_on_both_backends() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for store in stores("filters_and_pages_agree", dir.path()).await {
        for (name, workspace, stage, mode) in RUNBOOKS {
            let mut runbook = json!({"name": name, "tasks": []});
            if let Some(workspace) = workspace {
                runbook["workspace"] = json!(workspace);
            }
            let definition = json!({"runbook": runbook, "plan": {"tasks": []}}).to_string();
            let state = json!({"version": 1, "stage": stage, "mode": mode}).to_string();
            let new = NewRunbook { name, definition: &definition, state: &state, tasks: &[], events: &[] };
            store.create_runbook(&new, 1).await.expect("runbook");
        }
        let cases: Vec<(&str, RunbookQuery, Vec<i64>)> = vec![
            ("everything", query(100), (1..=8).collect()),
            ("active", RunbookQuery { stage: Some(RunbookStage::Active), ..query(100) }, vec![2, 3, 8]),
            ("live", RunbookQuery { mode: Some(RunMode::Live), ..query(100) }, vec![2, 4, 5, 8]),
            (
                "active and live",
                RunbookQuery { stage: Some(RunbookStage::Active), mode: Some(RunMode::Live), ..query(100) },
                vec![2, 8],
            ),
            ("workspace exactly", RunbookQuery { workspace: Some("ops".into()), ..query(100) }, vec![2, 3, 6, 7]),
            (
                "name, any ASCII case",
                RunbookQuery { name_contains: Some("RELEASE".into()), ..query(100) },
                vec![1, 2, 3, 6, 7],
            ),
            ("name literally", RunbookQuery { name_contains: Some("%_".into()), ..query(100) }, vec![5]),
            ("name, other letters exactly", RunbookQuery { name_contains: Some("ünï".into()), ..query(100) }, vec![]),
            ("name with a non-ASCII letter", RunbookQuery { name_contains: Some("Ünï".into()), ..query(100) }, vec![6]),
            ("after a cursor", RunbookQuery { after: Some(RunbookId(6)), ..query(100) }, vec![7, 8]),
            (
                "nothing",
                RunbookQuery { stage: Some(RunbookStage::Complete), mode: Some(RunMode::Rehearsal), ..query(5) },
                vec![],
            ),
        ];
        for (name, query, expected) in cases {
            // Every page size gives the same runbooks, each once, in order.
            for limit in [1, 2, 3, 100] {
                let mut seen = Vec::new();
                let mut page_query = RunbookQuery { limit, ..query.clone() };
                loop {
                    let page = store.runbook_page(&page_query).await.expect("page");
                    assert!(page.runbooks.len() <= limit as usize, "{name}");
                    seen.extend(page.runbooks.iter().map(|runbook| runbook.id.0));
                    match (page.more, page.runbooks.last()) {
                        (true, Some(last)) => page_query.after = Some(last.id),
                        _ => break,
                    }
                }
                assert_eq!(seen, expected, "{name}, {limit} a page");
            }
        }
        let page = store.runbook_page(&query(2)).await.expect("page");
        let second = &page.runbooks[1];
        assert_eq!(
            (second.name.as_str(), second.workspace.as_deref(), second.stage, second.mode),
            ("Release 2", Some("ops"), RunbookStage::Active, Some(RunMode::Live))
        );
        assert!(page.more);

        // Replacing a runbook's definition (planning) moves it to the definition's workspace.
        let definition =
            json!({"runbook": {"name": "Release 1", "workspace": "dba", "tasks": []}, "plan": {"tasks": []}});
        let definition = definition.to_string();
        let state = json!({"version": 2, "stage": "planning"}).to_string();
        let replaced =
            ReplacedRunbook { name: "Release 1", definition: &definition, state: &state, tasks: &[], events: &[] };
        store.replace_runbook(RunbookId(1), 1, &replaced, 2).await.expect("replaced");
        let in_dba = RunbookQuery { workspace: Some("dba".into()), ..query(100) };
        let listed: Vec<i64> =
            store.runbook_page(&in_dba).await.expect("page").runbooks.iter().map(|runbook| runbook.id.0).collect();
        assert_eq!(listed, [1, 4], "the replaced definition's workspace is the runbook's");
    }
}
