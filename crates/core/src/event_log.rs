//! The engine's side of the durable event log: every event the engine tells listeners is also appended to the
//! store's log, in the order the engine made them, by one appender task (so that two commits of one runbook never
//! reach the log in the other order). Listeners that must not miss anything (the server's event stream) read the log
//! after the last id they saw, and wait on [`Engine::event_log_changes`] for more.
//!
//! Events are appended after the commit that made them, in a transaction of their own: a process killed between the
//! two loses those events from the log (the state they describe is committed, and a reader that refetches sees it).
//! Retention: events older than [`crate::EngineSettings::event_retention`] are removed, at most once a minute.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::events::EngineEvent;
use cutover_integrations_store::{EventBounds, RunbookId, Store, StoredEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How often old events are removed, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The most events appended in one transaction.
const BATCH: usize = 512;

/// The appender's inbox and the last id it appended.
pub(crate) struct EventLog {
    sender: mpsc::UnboundedSender<Vec<EngineEvent>>,
    appended: watch::Receiver<i64>,
}

impl EventLog {
    /// Starts the appender over `store`; it ends when the engine is dropped.
    pub(crate) fn start(store: Arc<dyn Store>, retention: Duration, clock: impl Fn() -> i64 + Send + 'static) -> Self {
        let (sender, mut inbox) = mpsc::unbounded_channel::<Vec<EngineEvent>>();
        let (appended_sender, appended) = watch::channel(0);
        tokio::spawn(async move {
            let mut pruned_at: Option<Instant> = None;
            while let Some(first) = inbox.recv().await {
                let mut events = first;
                while events.len() < BATCH {
                    match inbox.try_recv() {
                        Ok(more) => events.extend(more),
                        Err(_) => break,
                    }
                }
                let rows: Vec<(RunbookId, String)> = events
                    .iter()
                    .filter_map(|event| serde_json::to_string(event).ok().map(|body| (event.runbook, body)))
                    .collect();
                let now = clock();
                match store.append_events(&rows, now).await {
                    Ok(ids) => {
                        if let Some(last) = ids.last() {
                            appended_sender.send_replace(*last);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "events could not be appended to the log"),
                }
                if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                    pruned_at = Some(Instant::now());
                    let before = now.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
                    if let Err(error) = store.prune_events(before).await {
                        tracing::warn!(%error, "old events could not be removed from the log");
                    }
                }
            }
        });
        Self { sender, appended }
    }

    /// Queues events for the log, in order.
    pub(crate) fn append(&self, events: Vec<EngineEvent>) {
        if !events.is_empty() {
            let _ = self.sender.send(events);
        }
    }
}

impl Engine {
    /// Tells listeners about events and appends them to the durable log.
    pub(crate) fn publish(&self, events: Vec<EngineEvent>) {
        for event in &events {
            let _ = self.inner.events.send(event.clone());
        }
        self.inner.event_log.append(events);
    }

    /// Up to `limit` logged events after the id `after`, of one runbook or all, in id order.
    pub async fn events_after(
        &self,
        after: i64,
        runbook: Option<RunbookId>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, EngineError> {
        Ok(self.inner.store.events_after(after, runbook, limit).await?)
    }

    /// The oldest logged event kept and the last id given.
    pub async fn event_bounds(&self) -> Result<EventBounds, EngineError> {
        Ok(self.inner.store.event_bounds().await?)
    }

    /// Changes whenever this engine appended events to the log (its value is the last id appended).
    pub fn event_log_changes(&self) -> watch::Receiver<i64> {
        self.inner.event_log.appended.clone()
    }
}
