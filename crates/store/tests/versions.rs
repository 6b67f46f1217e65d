//! Versions behind `ETag`/`If-Match`, on SQLite and PostgreSQL: every change of an integration or of one of its
//! actions moves the integration's version, whoever writes it, and a guarded write at a stale version is refused with
//! nothing written.

use cutover_integrations_auth::{Cipher, Key, KeyId, KeyRing};
use cutover_integrations_model::{Action, Integration};
use cutover_integrations_store::{IntegrationId, Sealer, SqlStore, SqlStoreOptions, Store, StoreError};
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

fn action(name: &str, url: &str) -> Action {
    serde_json::from_value(json!({
        "name": name,
        "auth": {"type": "token", "token": "s3cret-token"},
        "request": {"method": "POST", "url": url},
    }))
    .expect("action")
}

fn integration() -> Integration {
    serde_json::from_value(json!({
        "name": "Hooks",
        "actions": [
            {"name": "Post", "request": {"method": "POST", "url": "https://example.com/post"}},
            {"name": "Get", "request": {"method": "GET", "url": "https://example.com/get"}},
        ],
    }))
    .expect("integration")
}

async fn version(store: &SqlStore, id: IntegrationId) -> i64 {
    store.integration(id).await.expect("read").expect("integration").version
}

/// What a write does to the integration's version.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Write {
    /// Re-applying the definition (updates the integration and each action).
    Apply,
    /// Archiving through the unguarded call.
    Archive,
    /// An action replaced through the unguarded call.
    UpdateAction,
    /// Settings written at the current version.
    SettingsAtCurrent,
    /// An action written at the current version.
    ActionAtCurrent,
    /// Settings written at a stale version: refused.
    SettingsAtStale,
    /// An action written at a stale version: refused.
    ActionAtStale,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_moves_the_version_and_stale_writes_change_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for store in stores("every_change_moves_the_version", dir.path()).await {
        let applied = store.apply_integration(&integration(), 1).await.expect("apply");
        let id = applied.integration_id;
        let post = store.integration(id).await.expect("read").expect("integration").action_ids[0];
        let cases = [
            Write::Apply,
            Write::Archive,
            Write::UpdateAction,
            Write::SettingsAtCurrent,
            Write::ActionAtCurrent,
            Write::SettingsAtStale,
            Write::ActionAtStale,
        ];
        for (step, write) in cases.into_iter().enumerate() {
            let before = store.integration(id).await.expect("read").expect("integration");
            let stale = before.version - 1;
            let mut settings = before.integration.clone();
            settings.image_url = Some(format!("https://example.com/icon-{step}.png"));
            let changed_action = action("Post", &format!("https://example.com/post/{step}"));
            let result = match write {
                Write::Apply => store.apply_integration(&integration(), 2).await.map(|_| ()),
                Write::Archive => store.set_integration_archived(id, step % 2 == 0, 2).await,
                Write::UpdateAction => store.update_action(post, &changed_action, 2).await,
                Write::SettingsAtCurrent => {
                    store.update_integration_settings(id, &settings, Some(before.version), 2).await
                }
                Write::ActionAtCurrent => store.update_action_if(post, &changed_action, Some(before.version), 2).await,
                Write::SettingsAtStale => store.update_integration_settings(id, &settings, Some(stale), 2).await,
                Write::ActionAtStale => store.update_action_if(post, &changed_action, Some(stale), 2).await,
            };
            let after = store.integration(id).await.expect("read").expect("integration");
            match write {
                Write::SettingsAtStale | Write::ActionAtStale => {
                    assert!(
                        matches!(result, Err(StoreError::Stale { expected, .. }) if expected == stale),
                        "{write:?}: {result:?}"
                    );
                    assert_eq!(after, before, "{write:?} changed nothing");
                }
                _ => {
                    result.unwrap_or_else(|error| panic!("{write:?}: {error}"));
                    assert!(after.version > before.version, "{write:?}: {} -> {}", before.version, after.version);
                }
            }
            let action = store.action(post).await.expect("read").expect("action");
            assert_eq!(action.integration_version, after.version, "{write:?}: an action shares its integration's");
        }
        let gone = store.update_integration_settings(IntegrationId(999), &integration(), Some(1), 3).await;
        assert!(matches!(gone, Err(StoreError::NotFound { .. })), "{gone:?}");
        assert_eq!(version(&store, id).await, store.integration(id).await.expect("read").expect("one").version);
    }
}
