//! The engine's side of the durable event log: every event the engine tells listeners is also in the store's log,
//! written by the same transaction as the change that made it. Listeners that must not miss anything (the server's
//! event stream, event integrations) read the log after the last id they saw, and wait on
//! [`Engine::event_log_changes`](crate::Engine::event_log_changes) for more.
//!
//! The events of a runbook command are written by the change's commit (numbered in its transaction, see
//! `Commit::events`); `runbook_created` by the runbook's creation and the planning changes (`task_added`, …) by the
//! runbook's replacement, each in its write's transaction (`NewRunbook::events`). So a crash never keeps a change and
//! loses its events, and ids follow the order of the writes.
//! Retention: events older than [`crate::EngineSettings::event_retention`] are removed, at most once a minute.

use crate::error::EngineError;
use crate::events::{EndedFires, EngineEvent};
use cutover_integrations_runbook::{Actor, Event};
use cutover_integrations_store::{RunbookId, Store};
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{broadcast, oneshot, watch};

/// How often old events are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The listeners of this engine's events, the last id it wrote to the log, and the task that removes old events.
pub(crate) struct EventLog {
    /// Listeners of runbook and task changes ([`Engine::subscribe`](crate::Engine::subscribe)).
    events: broadcast::Sender<EngineEvent>,
    appended_sender: watch::Sender<i64>,
    appended: watch::Receiver<i64>,
    /// Counts the changes this engine made to the list of event integrations, so that the delivery loop reads the list
    /// again after one (see `Engine::deliver_events`).
    integrations_changed: AtomicU64,
    /// Fires that ended in the events published so far.
    ended: Mutex<EndedFires>,
    /// Dropped with the engine, which ends the pruning task.
    _stop: oneshot::Sender<()>,
}

impl EventLog {
    /// Starts removing events older than `retention` from `store` every minute; it stops when the engine is dropped.
    pub(crate) fn start(store: Arc<dyn Store>, retention: Duration, clock: impl Fn() -> i64 + Send + 'static) -> Self {
        let (appended_sender, appended) = watch::channel(0);
        let (events, _) = broadcast::channel(4096);
        let (stop, mut stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut every = tokio::time::interval_at(tokio::time::Instant::now() + PRUNE_EVERY, PRUNE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => return,
                    _ = every.tick() => {}
                }
                let before = clock().saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
                if let Err(error) = store.prune_events(before).await {
                    tracing::warn!(%error, "old events could not be removed from the log");
                }
            }
        });
        Self {
            events,
            appended_sender,
            appended,
            integrations_changed: AtomicU64::new(0),
            ended: Mutex::new(EndedFires::default()),
            _stop: stop,
        }
    }

    /// Tells listeners about events a write stored in the durable log, the last of them with id `last`.
    pub(crate) fn publish_committed(&self, events: Vec<EngineEvent>, last: Option<i64>) {
        {
            let mut ended = self.ended.lock().unwrap_or_else(PoisonError::into_inner);
            for event in &events {
                ended.count(&event.event);
            }
        }
        for event in &events {
            let _ = self.events.send(event.clone());
        }
        if let Some(last) = last {
            advance_to(&self.appended_sender, last);
        }
    }

    /// Fires that ended in the events published so far.
    pub(crate) fn ended_fires(&self) -> EndedFires {
        *self.ended.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes whenever this engine appended events to the log (its value is the last id appended).
    pub(crate) fn changes(&self) -> watch::Receiver<i64> {
        self.appended.clone()
    }

    /// A new listener of the events published from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    /// Notes that this engine changed the list of event integrations (created, replaced, deleted one).
    pub(crate) fn note_integrations_changed(&self) {
        self.integrations_changed.fetch_add(1, Ordering::AcqRel);
    }

    /// How many changes this engine made to the list of event integrations so far.
    pub(crate) fn integrations_changed(&self) -> u64 {
        self.integrations_changed.load(Ordering::Acquire)
    }
}

/// Who caused a change, as logged bodies say: `user` for a command of a person, `engine` for the engine's own (fire
/// outcomes, auto starts, timers).
fn actor_name(actor: &Actor) -> &'static str {
    if actor.roles.is_empty() { "engine" } else { "user" }
}

/// A logged body as written: the fields of an [`EngineEvent`], then `actor`.
#[derive(Serialize)]
struct LoggedBody<'a> {
    runbook: RunbookId,
    #[serde(flatten)]
    event: &'a Event,
    actor: &'static str,
}

/// An event as the log keeps it: the [`EngineEvent`] and who caused it (see [`actor_name`]), written in one pass.
pub(crate) fn logged_body(runbook: RunbookId, event: &Event, actor: &Actor) -> Result<String, EngineError> {
    serde_json::to_string(&LoggedBody { runbook, event, actor: actor_name(actor) })
        .map_err(EngineError::corrupt("logged event"))
}

/// An event written with a runbook's creation or replacement, which a person makes (the store adds the runbook's
/// id): the event and `actor: user`.
pub(crate) fn planning_body(event: &Event) -> String {
    let mut body = serde_json::to_value(event).unwrap_or_default();
    if let Value::Object(object) = &mut body {
        object.insert("actor".to_owned(), Value::String("user".to_owned()));
    }
    body.to_string()
}

/// The most bytes of task ids one `tasks_created` event lists (a part holds at least one id).
pub(crate) const LISTED_TASK_BYTES: usize = 16 * 1024;

/// The logged bodies of a runbook's creation: `runbook_created` with `task_count`, then `tasks_created` events that
/// list the tasks made in order, each listing at most [`LISTED_TASK_BYTES`] of ids, so no body grows with the runbook.
pub(crate) fn creation_bodies(tasks: Vec<String>) -> Vec<String> {
    let mut created = serde_json::to_value(Event::RunbookCreated).unwrap_or_default();
    if let Value::Object(object) = &mut created {
        object.insert("actor".to_owned(), Value::String("user".to_owned()));
        object.insert("task_count".to_owned(), Value::from(tasks.len()));
    }
    let mut bodies = vec![created.to_string()];
    let mut part = Vec::new();
    let mut bytes = 0;
    for task in tasks {
        if !part.is_empty() && bytes + task.len() > LISTED_TASK_BYTES {
            bodies.push(planning_body(&Event::TasksCreated { tasks: std::mem::take(&mut part) }));
            bytes = 0;
        }
        bytes += task.len();
        part.push(task);
    }
    if !part.is_empty() {
        bodies.push(planning_body(&Event::TasksCreated { tasks: part }));
    }
    bodies
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate_secret_key;
    use cutover_integrations_model::{IntegrationStatus, Role, TaskStage};
    use cutover_integrations_runbook::FireNumber;
    use secrecy::ExposeSecret as _;

    /// A logged body is the engine event as listeners get it, with `actor` after its fields.
    fn check(event: Event, actor: Actor, name: &str) {
        let runbook = RunbookId(7);
        let body = logged_body(runbook, &event, &actor).expect("a body");
        let mut expected = serde_json::to_value(EngineEvent { runbook, event }).expect("an event");
        expected.as_object_mut().expect("an object").insert("actor".to_owned(), Value::from(name));
        assert_eq!(body, expected.to_string());
    }

    #[test]
    fn logged_bodies_are_the_engine_event_and_its_actor() {
        let started =
            Event::TaskStageChanged { task: "t\"1".into(), from: TaskStage::Startable, to: TaskStage::InProgress };
        let table = [
            (Event::RunbookCreated, Actor::with_roles([Role::Admin]), "user"),
            (started, Actor::engine(), "engine"),
            (Event::TasksCreated { tasks: vec!["a".into(), "é".into()] }, Actor::engine(), "engine"),
        ];
        for (event, actor, name) in table {
            check(event, actor, name);
        }
    }

    fn status_changed(status: IntegrationStatus) -> EngineEvent {
        let event = Event::IntegrationStatusChanged { task: "t".into(), fire: FireNumber::FIRST, status, reason: None };
        EngineEvent { runbook: RunbookId(1), event }
    }

    /// Every outcome is counted under its own name and statuses under way are not, however far the broadcast's
    /// listeners fall behind (one that never reads lags, the counts do not).
    #[tokio::test]
    async fn ended_fires_are_counted_whether_or_not_listeners_keep_up() {
        let directory = tempfile::tempdir().expect("directory");
        let url = format!("sqlite://{}", directory.path().join("cutover.db").display());
        let engine =
            crate::Engine::builder().database_url(&url).secret_key_base64(generate_secret_key().expose_secret());
        let engine = engine.build().await.expect("engine");
        let mut lagging = engine.subscribe();
        let statuses = [
            IntegrationStatus::Succeeded,
            IntegrationStatus::Failed,
            IntegrationStatus::Failed,
            IntegrationStatus::Cancelled,
            IntegrationStatus::NotSent,
            IntegrationStatus::None,
            IntegrationStatus::Pending,
            IntegrationStatus::Running,
            IntegrationStatus::Waiting,
        ];
        let rounds = 1_000;
        for _ in 0..rounds {
            let events = statuses.iter().map(|status| status_changed(*status)).collect();
            engine.inner.event_log.publish_committed(events, None);
        }
        assert!(matches!(lagging.try_recv(), Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_))));
        let expected = EndedFires { succeeded: rounds, failed: 2 * rounds, cancelled: rounds, not_sent: rounds };
        assert_eq!(engine.ended_fires(), expected);
        // Each outcome's count is listed under the name its status gives it.
        let listed = engine.ended_fires().by_outcome();
        for status in statuses {
            let Some(name) = EndedFires::outcome_name(status) else { continue };
            let occurrences = statuses.iter().filter(|other| **other == status).count() as u64;
            assert!(listed.contains(&(name, occurrences * rounds)), "{name} in {listed:?}");
        }
        assert_eq!(
            listed.len(),
            statuses
                .iter()
                .filter_map(|status| EndedFires::outcome_name(*status))
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        );
    }
}
