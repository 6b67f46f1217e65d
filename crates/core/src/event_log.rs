//! The engine's side of the durable event log: every event the engine tells listeners is also appended to the
//! store's log, in the order the engine made them, by one appender task (so that two commits of one runbook never
//! reach the log in the other order). Listeners that must not miss anything (the server's event stream) read the log
//! after the last id they saw, and wait on [`Engine::event_log_changes`] for more.
//!
//! The events of a runbook change are written by the commit of the change itself (numbered in its transaction, see
//! `Commit::events`), so a crash never keeps a change and loses its events, and ids follow the order of commits. Only
//! `runbook_created`, which no commit of the runbook carries, is appended by the appender, before the runbook's id is
//! returned to anyone (so before any commit of the runbook can make events).
//! Retention: events older than [`crate::EngineSettings::event_retention`] are removed, at most once a minute.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::events::EngineEvent;
use cutover_integrations_runbook::Actor;
use cutover_integrations_store::{EventBounds, RunbookId, Store, StoredEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// How often old events are removed, at most.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The most events appended in one transaction.
const BATCH: usize = 512;

/// The appender's inbox and the last id it appended.
pub(crate) struct EventLog {
    sender: mpsc::UnboundedSender<(Vec<EngineEvent>, Option<oneshot::Sender<()>>)>,
    appended_sender: Arc<watch::Sender<i64>>,
    appended: watch::Receiver<i64>,
}

impl EventLog {
    /// Starts the appender over `store`; it ends when the engine is dropped.
    pub(crate) fn start(store: Arc<dyn Store>, retention: Duration, clock: impl Fn() -> i64 + Send + 'static) -> Self {
        let (sender, mut inbox) = mpsc::unbounded_channel::<(Vec<EngineEvent>, Option<oneshot::Sender<()>>)>();
        let (appended_sender, appended) = watch::channel(0);
        let appended_sender = Arc::new(appended_sender);
        let advance = appended_sender.clone();
        tokio::spawn(async move {
            let mut pruned_at: Option<Instant> = None;
            while let Some((first, done)) = inbox.recv().await {
                let mut events = first;
                let mut waiting: Vec<oneshot::Sender<()>> = done.into_iter().collect();
                while events.len() < BATCH {
                    match inbox.try_recv() {
                        Ok((more, done)) => {
                            events.extend(more);
                            waiting.extend(done);
                        }
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
                            advance_to(&advance, *last);
                        }
                    }
                    Err(error) => tracing::warn!(%error, "events could not be appended to the log"),
                }
                for done in waiting {
                    let _ = done.send(());
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
        Self { sender, appended_sender, appended }
    }

    /// Appends events that no commit carried to the log, in order; returns once they are appended (or failed to be).
    pub(crate) async fn append(&self, events: Vec<EngineEvent>) {
        if events.is_empty() {
            return;
        }
        let (done, appended) = oneshot::channel();
        if self.sender.send((events, Some(done))).is_ok() {
            let _ = appended.await;
        }
    }
}

/// An event as the log keeps it: the [`EngineEvent`] and who caused it (`user` for a command of a person, `engine`
/// for the engine's own: fire outcomes, auto starts, timers).
pub(crate) fn logged_body(runbook: RunbookId, event: &cutover_integrations_runbook::Event, actor: &Actor) -> String {
    let mut body = serde_json::to_value(EngineEvent { runbook, event: event.clone() }).unwrap_or_default();
    if let serde_json::Value::Object(object) = &mut body {
        let who = if actor.roles.is_empty() { "engine" } else { "user" };
        object.insert("actor".to_owned(), serde_json::Value::String(who.to_owned()));
    }
    body.to_string()
}

/// Moves the last appended id forward (commits of different runbooks may report theirs out of order).
fn advance_to(sender: &watch::Sender<i64>, last: i64) {
    sender.send_if_modified(|known| {
        let moved = last > *known;
        if moved {
            *known = last;
        }
        moved
    });
}

impl Engine {
    /// Tells listeners about events that no commit carried and appends them to the durable log (waiting for it).
    pub(crate) async fn publish(&self, events: Vec<EngineEvent>) {
        for event in &events {
            let _ = self.inner.events.send(event.clone());
        }
        self.inner.event_log.append(events).await;
    }

    /// Tells listeners about events a commit wrote to the durable log, the last of them with id `last`.
    pub(crate) fn publish_committed(&self, events: Vec<EngineEvent>, last: Option<i64>) {
        for event in &events {
            let _ = self.inner.events.send(event.clone());
        }
        if let Some(last) = last {
            advance_to(&self.inner.event_log.appended_sender, last);
        }
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
