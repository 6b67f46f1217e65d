//! A cache of compiled actions and of system parameters, so that a fire step reads neither from the store nor
//! compiles templates.
//!
//! # Staleness
//!
//! An entry is used while two things hold:
//!
//! - No change of definitions or parameters went through this engine's store since the entry was loaded
//!   ([`Store::catalog_changes_here`](cutover_integrations_store::Store::catalog_changes_here), an in-memory counter):
//!   changes made through this process (its API, its CLI) reach the next fire step at once.
//! - The store's catalog revision, read at most once per [`EngineSettings::poll_interval`](crate::EngineSettings),
//!   has not moved: changes made through other engines sharing the database reach this engine's fire steps within
//!   one poll interval.
//!
//! A step already under way finishes with what it was prepared with.
//!
//! A component of the engine that owns its state: it reads the store it was given and knows nothing of the engine.

use cutover_integrations_http::PreparedAction;
use cutover_integrations_model::{ActionRef, SystemParameter};
use cutover_integrations_store::{ActionRecord, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// An action as stored, with its templates compiled.
pub(crate) struct CachedAction {
    pub(crate) record: ActionRecord,
    pub(crate) prepared: PreparedAction,
}

/// Why an action could not be served.
pub(crate) enum ActionLookup {
    /// The store failed.
    Store(StoreError),
    /// No such action.
    Missing,
    /// Its templates do not compile.
    Invalid(String),
}

/// The cache; see the module documentation for when entries are dropped.
pub(crate) struct Catalog {
    store: Arc<dyn Store>,
    entries: Mutex<Entries>,
    check_every: Duration,
    /// At most this many compiled actions are kept ([`EngineSettings::max_cached_actions`](crate::EngineSettings)).
    max_actions: usize,
}

#[derive(Default)]
struct Entries {
    /// The store's local change count the entries were loaded under.
    local_changes: u64,
    /// The store's revision at the last check, and when that was.
    revision: Option<(i64, Instant)>,
    actions: HashMap<ActionRef, Arc<CachedAction>>,
    parameters: Option<Arc<Vec<SystemParameter>>>,
}

impl Entries {
    fn clear(&mut self) {
        self.actions.clear();
        self.parameters = None;
    }
}

impl Catalog {
    /// A cache over `store` that checks the store's catalog revision at most once per `check_every` and keeps at
    /// most `max_actions` compiled actions.
    pub(crate) fn new(store: Arc<dyn Store>, check_every: Duration, max_actions: usize) -> Self {
        Self { store, entries: Mutex::new(Entries::default()), check_every, max_actions: max_actions.max(1) }
    }

    /// How many compiled actions are kept now.
    pub(crate) fn cached_actions(&self) -> usize {
        self.entries().actions.len()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops cached entries that may be stale; returns the local change count that entries loaded now belong to.
    async fn validate(&self) -> Result<u64, StoreError> {
        let local = self.store.catalog_changes_here();
        let check_due = {
            let mut entries = self.entries();
            if entries.local_changes != local {
                entries.clear();
                entries.local_changes = local;
            }
            entries.revision.is_none_or(|(_, checked)| checked.elapsed() >= self.check_every)
        };
        if check_due {
            let revision = self.store.catalog_revision().await?;
            let mut entries = self.entries();
            if entries.revision.is_some_and(|(known, _)| known != revision) {
                entries.clear();
            }
            entries.revision = Some((revision, Instant::now()));
        }
        Ok(local)
    }

    /// The action `reference` names, compiled, from the cache or the store.
    pub(crate) async fn action(&self, reference: &ActionRef) -> Result<Arc<CachedAction>, ActionLookup> {
        let local = self.validate().await.map_err(ActionLookup::Store)?;
        if let Some(hit) = self.entries().actions.get(reference) {
            return Ok(hit.clone());
        }
        let record = self.store.find_action(reference).await.map_err(ActionLookup::Store)?;
        let record = record.ok_or(ActionLookup::Missing)?;
        let prepared =
            PreparedAction::compile(&record.action).map_err(|error| ActionLookup::Invalid(error.to_string()))?;
        let cached = Arc::new(CachedAction { record, prepared });
        let mut entries = self.entries();
        // Loaded under the current count: keep it. (A change that landed meanwhile raised the count; the entry is
        // used for this step only.)
        if entries.local_changes == local {
            if entries.actions.len() >= self.max_actions
                && let Some(dropped) = entries.actions.keys().next().cloned()
            {
                // Full: one entry makes room (any one: an action dropped is compiled again when next used).
                entries.actions.remove(&dropped);
            }
            entries.actions.insert(reference.clone(), cached.clone());
        }
        Ok(cached)
    }

    /// Every system parameter, values opened, from the cache or the store.
    pub(crate) async fn parameters(&self) -> Result<Arc<Vec<SystemParameter>>, StoreError> {
        let local = self.validate().await?;
        if let Some(hit) = &self.entries().parameters {
            return Ok(hit.clone());
        }
        let parameters = Arc::new(self.store.system_parameters().await?);
        let mut entries = self.entries();
        if entries.local_changes == local {
            entries.parameters = Some(parameters.clone());
        }
        Ok(parameters)
    }
}
