//! Event integrations: runbook and task events sent as webhooks, through an outbox of deliveries.
//!
//! Each running engine's dispatcher also runs a delivery loop with two halves:
//!
//! - **Routing** reads the durable event log after each event integration's cursor (the last event id it routed),
//!   turns each event into the deliveries it makes for that event integration (event types it wants, runbooks in its
//!   scope, nothing from rehearsals unless `execute_in_rehearsal`), and writes them with the moved cursor in one
//!   transaction guarded by the old cursor. The events of a change are written by the change's own commit, so a crash
//!   loses none; a crash before routing leaves the cursor where it was, and a restarted engine routes from there.
//!   A delivery is created once per (event, event integration, part): its `Idempotency-Key` is fixed then.
//! - **Sending** claims due deliveries under a lease (the first not done of each runbook and event integration, so a
//!   receiver gets a runbook's events in event order), sends one attempt with the HTTP executor (the action machinery:
//!   auth, templates, the outbound guard, redaction, retries with backoff), and records the attempt's log entries and
//!   outcome under the lease. A failed delivery is retried per the executor's policy, then recorded `failed`, and the
//!   next one goes: a receiver that is down never blocks a runbook.
//!
//! Delivery is at least once: an engine killed after a request was sent and before its outcome was recorded sends it
//! again, with the same key, when the lease ends.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::render::{AuthResolutionError, fire_values, resolve_auth, with_parameters};
use cutover_integrations_auth::FireSubject;
use cutover_integrations_http::{Executor, FireContext, FireState, LogEntry, NoteRecord, PreparedAction, StepOutcome};
use cutover_integrations_model::{
    BodyTemplate, Definition, EventIntegration, EventType, HttpMethod, RunMode, RunbookStage, TaskStage,
};
use cutover_integrations_runbook::Event;
use cutover_integrations_store::{
    ClaimRequest, DeliveryOutcome, DeliveryRecord, DeliveryStatus, DeliveryUpdate, EventIntegrationId,
    EventIntegrationRecord, NewDelivery, RunbookId, StoredEvent,
};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;

/// The most events routed per event integration in one pass.
const ROUTE_BATCH: u32 = 256;
/// The most deliveries an engine sends at once.
const MAX_IN_FLIGHT: usize = 32;

/// A delivery as a runbook's actions log shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryView {
    /// The event's id in the event log.
    pub event_id: i64,
    /// When the event was logged.
    pub event_at: Timestamp,
    /// The event's runbook.
    pub runbook: RunbookId,
    /// The runbook's name when the event was routed (what the delivery sends as `runbook.name`).
    pub runbook_name: Option<String>,
    /// The event type sent.
    pub event_type: EventType,
    /// The event integration's id.
    pub event_integration_id: EventIntegrationId,
    /// The event integration's name, unless it was deleted since.
    pub event_integration: Option<String>,
    /// The task the event concerns, if any.
    pub task: Option<String>,
    /// The `Idempotency-Key` every attempt carries.
    pub idempotency_key: String,
    /// `due` (to send or retry) or `done`.
    pub status: DeliveryStatus,
    /// `delivered` or `failed`, once done.
    pub outcome: Option<DeliveryOutcome>,
    /// Attempts and notes, in order; secrets were redacted before they were stored.
    pub entries: Vec<LogEntry>,
}

/// The event types an engine event makes, with the task each concerns (the `tasks_created` events logged after a
/// `runbook_created` make its `task.created`, one per task they list).
pub fn event_types_of(event: &Event) -> Vec<(EventType, Option<String>)> {
    match event {
        Event::TaskAdded { task } => vec![(EventType::TaskCreated, Some(task.clone()))],
        Event::TasksCreated { tasks } => {
            tasks.iter().map(|task| (EventType::TaskCreated, Some(task.clone()))).collect()
        }
        Event::TaskStageChanged { task, to, .. } => match to {
            TaskStage::InProgress => vec![(EventType::TaskStarted, Some(task.clone()))],
            TaskStage::Complete => vec![(EventType::TaskFinished, Some(task.clone()))],
            TaskStage::Skipped => vec![(EventType::TaskSkipped, Some(task.clone()))],
            TaskStage::NotStartable | TaskStage::Startable => Vec::new(),
        },
        Event::IntegrationStatusChanged { task, status, .. }
            if *status == cutover_integrations_model::IntegrationStatus::Failed =>
        {
            vec![(EventType::TaskFailed, Some(task.clone()))]
        }
        Event::RunbookStageChanged { from, to, .. } => match (from, to) {
            (RunbookStage::Planning, RunbookStage::Active) => {
                vec![(EventType::RunbookStarted, None), (EventType::RunStarted, None)]
            }
            (_, RunbookStage::Complete) => vec![(EventType::RunbookFinished, None), (EventType::RunFinished, None)],
            (_, RunbookStage::Cancelled) => vec![(EventType::RunFinished, None)],
            // Paused and resumed.
            _ => vec![(EventType::RunbookUpdated, None)],
        },
        Event::CustomFieldsChanged { task: None, .. } => vec![(EventType::RunbookUpdated, None)],
        _ => Vec::new(),
    }
}

impl Engine {
    /// Creates or updates (by name) an event integration; returns it with its secrets redacted, and whether it was
    /// created. A new one (or one enabled again) sends what happens from now on.
    pub async fn put_event_integration(
        &self,
        definition: &EventIntegration,
    ) -> Result<(EventIntegrationRecord, bool), EngineError> {
        let (mut record, created) =
            self.inner.store.put_event_integration(definition, self.now().as_millisecond()).await?;
        self.inner.event_log.note_integrations_changed();
        record.definition.auth = record.definition.auth.with_secrets_replaced("[REDACTED]");
        self.inner.dispatcher.wake();
        Ok((record, created))
    }

    /// Validates an event integration written as JSON (the definition document without `kind`, or with it) and
    /// stores it, like [`Engine::put_event_integration`]; problems come back with their JSON paths.
    pub async fn put_event_integration_json(
        &self,
        document: &Value,
    ) -> Result<(EventIntegrationRecord, bool), EngineError> {
        let definition = self.event_integration_of(document).await?;
        self.put_event_integration(&definition).await
    }

    /// Replaces the definition of the event integration `id` with one written as JSON (checked like
    /// [`Engine::put_event_integration_json`]), if it is still at `expected_version` (any version when `None`): one
    /// that moved is refused with [`cutover_integrations_store::StoreError::Stale`], nothing changed. Its `name` must
    /// stay the same (names are how definition files find it). Returns it with its secrets redacted.
    pub async fn replace_event_integration_json_if(
        &self,
        id: EventIntegrationId,
        document: &Value,
        expected_version: Option<i64>,
    ) -> Result<EventIntegrationRecord, EngineError> {
        let stored = self.event_integration(id).await?;
        if document.get("name").and_then(Value::as_str) != Some(stored.definition.name.as_str()) {
            return Err(EngineError::invalid_input("name", format!("must stay `{}`", stored.definition.name)));
        }
        let definition = self.event_integration_of(document).await?;
        let now = self.now().as_millisecond();
        let mut record = self.inner.store.replace_event_integration(id, &definition, expected_version, now).await?;
        self.inner.event_log.note_integrations_changed();
        record.definition.auth = record.definition.auth.with_secrets_replaced("[REDACTED]");
        self.inner.dispatcher.wake();
        Ok(record)
    }

    /// An event integration written as JSON (`kind` may be left out), validated as a definition file would be.
    async fn event_integration_of(&self, document: &Value) -> Result<EventIntegration, EngineError> {
        let mut document = document.clone();
        if let Value::Object(object) = &mut document {
            object.entry("kind").or_insert_with(|| Value::String("event_integration".to_owned()));
        }
        let text = serde_json::to_string_pretty(&document).map_err(EngineError::corrupt("event integration"))?;
        let parsed = self.check_definition("event_integration.json", &text).await?;
        match parsed.into_definition() {
            Definition::EventIntegration(definition) => Ok(*definition),
            _ => Err(EngineError::invalid_input("kind", "must be `event_integration` (or left out)")),
        }
    }

    /// Every event integration, in name order, secrets redacted.
    pub async fn event_integrations(&self) -> Result<Vec<EventIntegrationRecord>, EngineError> {
        Ok(self.inner.store.event_integrations(false).await?)
    }

    /// One event integration, secrets redacted.
    pub async fn event_integration(&self, id: EventIntegrationId) -> Result<EventIntegrationRecord, EngineError> {
        self.inner
            .store
            .event_integration(id, false)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: "event integration", id: id.to_string() })
    }

    /// Deletes an event integration; what it still had to send is given up (its log stays).
    pub async fn delete_event_integration(&self, id: EventIntegrationId) -> Result<(), EngineError> {
        let deleted = self.inner.store.delete_event_integration(id, self.now().as_millisecond()).await;
        self.inner.event_log.note_integrations_changed();
        if deleted? { Ok(()) } else { Err(EngineError::NotFound { what: "event integration", id: id.to_string() }) }
    }

    /// The deliveries of a runbook's events, in event order, with their log: the event part of its actions log.
    pub async fn runbook_event_deliveries(&self, runbook: RunbookId) -> Result<Vec<DeliveryView>, EngineError> {
        self.runbook(runbook).await?;
        let deliveries = self.inner.store.runbook_deliveries(runbook).await?;
        self.delivery_views(deliveries).await
    }

    /// An event integration's latest `limit` deliveries, newest event first, with their log.
    pub async fn event_integration_deliveries(
        &self,
        id: EventIntegrationId,
        limit: u32,
    ) -> Result<Vec<DeliveryView>, EngineError> {
        let deliveries = self.inner.store.event_integration_deliveries(id, limit).await?;
        self.delivery_views(deliveries).await
    }

    async fn delivery_views(&self, deliveries: Vec<DeliveryRecord>) -> Result<Vec<DeliveryView>, EngineError> {
        let names: HashMap<EventIntegrationId, String> = self
            .inner
            .store
            .event_integrations(false)
            .await?
            .into_iter()
            .map(|record| (record.id, record.definition.name))
            .collect();
        let mut views = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let entries: Vec<LogEntry> =
                serde_json::from_str(&delivery.entries).map_err(EngineError::corrupt("event delivery log"))?;
            let routed: Option<RoutedDocument> = serde_json::from_str(&delivery.event).ok();
            views.push(DeliveryView {
                event_id: delivery.event_id,
                event_at: Timestamp::from_millisecond(delivery.event_at).unwrap_or(Timestamp::UNIX_EPOCH),
                runbook: delivery.runbook_id,
                runbook_name: routed.and_then(|routed| routed.payload.runbook.name),
                event_type: delivery.event_type,
                event_integration_id: delivery.event_integration_id,
                event_integration: names.get(&delivery.event_integration_id).cloned(),
                task: delivery.task_id,
                idempotency_key: delivery.idempotency_key,
                status: delivery.status,
                outcome: delivery.outcome,
                entries,
            });
        }
        Ok(views)
    }

    /// The delivery loop of a running engine (see the module documentation); ends when `stopped` changes, once every
    /// delivery in flight is recorded.
    ///
    /// Deliveries are sent by tasks of their own, at most [`MAX_IN_FLIGHT`] at once; the loop claims again whenever
    /// one ends, so a receiver that holds its request (up to its timeout) holds up only its own event integration's
    /// later deliveries of that runbook, which wait behind it in the store.
    pub(crate) async fn deliver_events(self, mut stopped: watch::Receiver<bool>) {
        let mut logged = self.event_log_changes();
        let mut tick = tokio::time::interval(self.inner.settings.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sending = tokio::task::JoinSet::new();
        let mut woken = Wake::Tick;
        // How many event integrations the last read of their list found, and this engine's count of its own changes
        // to the list then. While there were none, events this engine logs are not routed (nothing reads the list):
        // the list is read again at every tick (another engine may have created one; events wait in the log and are
        // routed from the integration's cursor) and at once after this engine changed it.
        let mut known: Option<usize> = None;
        let mut changes_read = 0;
        loop {
            let changes = self.inner.event_log.integrations_changed();
            let ticked = woken == Wake::Tick;
            // A delivery that ended makes no new events to route: it may only have let the next one of its runbook
            // become due.
            let routing = if woken != Wake::Sent && (ticked || known != Some(0) || changes != changes_read) {
                changes_read = changes;
                let routing = self.route_events().await.unwrap_or_else(|error| {
                    tracing::warn!(%error, "routing events to event integrations failed; retrying at the next tick");
                    Routing { integrations: 1, routed: 0 }
                });
                known = Some(routing.integrations);
                routing
            } else {
                Routing { integrations: known.unwrap_or(0), routed: 0 }
            };
            // A claim is a write: made when deliveries were just routed, when one ended, or at a tick (retries that
            // came due, leases that ended, other engines' deliveries) while any event integration exists. So commits
            // of an engine without event integrations cost nothing here.
            let mut ended = woken == Wake::Sent;
            while sending.try_join_next().is_some() {
                ended = true;
            }
            let may_be_due = routing.routed > 0 || ended || (ticked && routing.integrations > 0);
            if may_be_due && let Err(error) = self.send_due_deliveries(&mut sending).await {
                tracing::warn!(%error, "claiming event deliveries failed; retrying at the next tick");
            }
            woken = tokio::select! {
                biased;
                _ = stopped.changed() => break,
                _ = logged.changed() => Wake::Logged,
                Some(_) = sending.join_next(), if !sending.is_empty() => Wake::Sent,
                _ = tick.tick() => Wake::Tick,
            };
        }
        // Nothing half-written: each delivery in flight records its answer (or its lease ends and it is sent again).
        while sending.join_next().await.is_some() {}
    }

    /// Routes the events logged after each enabled event integration's cursor.
    async fn route_events(&self) -> Result<Routing, EngineError> {
        let integrations = self.inner.store.event_integrations(false).await?;
        let mut routing = Routing { integrations: integrations.len(), routed: 0 };
        if integrations.is_empty() {
            return Ok(routing);
        }
        let mut runbooks: HashMap<RunbookId, Option<Arc<crate::RunbookView>>> = HashMap::new();
        for record in integrations.iter().filter(|record| record.definition.enabled) {
            let mut cursor = record.last_event_id;
            loop {
                let events = self.inner.store.events_after(cursor, None, ROUTE_BATCH).await?;
                let Some(last) = events.last().map(|event| event.id) else { break };
                let mut deliveries = Vec::new();
                for event in &events {
                    deliveries.extend(self.route_event(record, event, &mut runbooks).await?);
                }
                let now = self.now().as_millisecond();
                let routed = self.inner.store.route_events(record.id, cursor, last, &deliveries, now).await?;
                if routed {
                    routing.routed += deliveries.len();
                }
                // Another engine routed them (it goes on from there), or this was the end of the log.
                if !routed || events.len() < ROUTE_BATCH as usize {
                    break;
                }
                cursor = last;
            }
        }
        Ok(routing)
    }

    /// The deliveries one logged event makes for one event integration.
    async fn route_event(
        &self,
        record: &EventIntegrationRecord,
        stored: &StoredEvent,
        runbooks: &mut HashMap<RunbookId, Option<Arc<crate::RunbookView>>>,
    ) -> Result<Vec<NewDelivery>, EngineError> {
        let definition = &record.definition;
        let body: Value = serde_json::from_str(&stored.body).unwrap_or(Value::Null);
        let Ok(event) = serde_json::from_value::<Event>(body.clone()) else { return Ok(Vec::new()) };
        let types: Vec<(EventType, Option<String>)> = match &event {
            Event::RunbookCreated if definition.wants(EventType::TaskCreated) => match body.get("tasks") {
                // Its tasks are listed by the `tasks_created` events logged right after it.
                _ if body.get("task_count").is_some() => Vec::new(),
                // Logged with its tasks inline (before lists were split into bounded parts).
                Some(Value::Array(tasks)) => tasks
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|task| (EventType::TaskCreated, Some(task.to_owned())))
                    .collect(),
                // Logged before creations listed their tasks: the runbook's tasks now.
                _ => {
                    let Some(view) = self.routed_runbook(stored.runbook, runbooks).await? else {
                        return Ok(Vec::new());
                    };
                    view.state.tasks().map(|task| (EventType::TaskCreated, Some(task.plan.id.clone()))).collect()
                }
            },
            event => event_types_of(event),
        };
        let types: Vec<_> = types.into_iter().filter(|(kind, _)| definition.wants(*kind)).collect();
        if types.is_empty() {
            return Ok(Vec::new());
        }
        let Some(view) = self.routed_runbook(stored.runbook, runbooks).await? else { return Ok(Vec::new()) };
        if !definition.scope.covers(&view.definition.name, view.definition.workspace.as_deref()) {
            return Ok(Vec::new());
        }
        let mode = match &event {
            Event::RunbookStageChanged { mode: Some(mode), .. } => Some(*mode),
            _ => view.state.mode(),
        };
        if mode == Some(RunMode::Rehearsal) && !definition.execute_in_rehearsal {
            return Ok(Vec::new());
        }
        let actor = body.get("actor").cloned().unwrap_or(Value::Null);
        let at = Timestamp::from_millisecond(stored.created_at).unwrap_or_else(|_| self.now());
        let mut deliveries = Vec::with_capacity(types.len());
        for (part, (kind, task)) in types.into_iter().enumerate() {
            let document = self.delivery_document(stored, &view, kind, task.as_deref(), &body, &actor, at);
            deliveries.push(NewDelivery {
                event_id: stored.id,
                part: part as i64,
                event_type: kind,
                runbook_id: stored.runbook,
                task_id: task,
                idempotency_key: format!(
                    "cutover-event-{}-{part}-{}-{:016x}",
                    stored.id,
                    record.id,
                    rand::random::<u64>()
                ),
                event: document.to_string(),
                event_at: stored.created_at,
            });
        }
        Ok(deliveries)
    }

    async fn routed_runbook(
        &self,
        id: RunbookId,
        runbooks: &mut HashMap<RunbookId, Option<Arc<crate::RunbookView>>>,
    ) -> Result<Option<Arc<crate::RunbookView>>, EngineError> {
        if let Some(known) = runbooks.get(&id) {
            return Ok(known.clone());
        }
        let view = match self.runbook(id).await {
            Ok(view) => Some(Arc::new(view)),
            Err(EngineError::NotFound { .. }) => None,
            Err(error) => return Err(error),
        };
        runbooks.insert(id, view.clone());
        Ok(view)
    }

    /// What a delivery sends, fixed when it is routed: the default payload and the template roots.
    #[allow(clippy::too_many_arguments, reason = "the parts of one document, each from its own source")]
    fn delivery_document(
        &self,
        stored: &StoredEvent,
        view: &crate::RunbookView,
        kind: EventType,
        task: Option<&str>,
        body: &Value,
        actor: &Value,
        at: Timestamp,
    ) -> Value {
        let link = self
            .inner
            .settings
            .public_url
            .join(&format!("runbooks/{}", stored.runbook))
            .map(|url| url.to_string())
            .unwrap_or_default();
        let mut values = match task.and_then(|task| view.state.task(task)) {
            Some(task_view) => fire_values(stored.runbook.0, &view.state, &task_view, &view.definition),
            None => json!({
                "CustomField": view.state.custom_fields().iter()
                    .map(|(name, value)| (name.clone(), serde_json::to_value(value).unwrap_or(Value::Null)))
                    .collect::<Map<String, Value>>(),
                "Task": {},
                "Runbook": {
                    "id": stored.runbook.0,
                    "name": view.definition.name,
                    "stage": view.state.stage(),
                    "mode": view.state.mode(),
                    "workspace": view.definition.workspace,
                },
            }),
        };
        let mut change = body.clone();
        if let Value::Object(change) = &mut change {
            change.remove("runbook");
            change.remove("actor");
            change.remove("tasks");
        }
        let mut runbook = values.get("Runbook").cloned().unwrap_or(Value::Null);
        if let Value::Object(runbook) = &mut runbook {
            runbook.insert("url".to_owned(), Value::String(link.clone()));
        }
        let task_value = task.map(|task| {
            let mut value = values.get("Task").cloned().unwrap_or(Value::Null);
            if let Value::Object(object) = &mut value {
                object.retain(|key, _| matches!(key.as_str(), "id" | "name" | "stage"));
                object.entry("id").or_insert_with(|| Value::String(task.to_owned()));
            }
            value
        });
        let payload = json!({
            "id": stored.id,
            "type": kind,
            "created_at": at.to_string(),
            "actor": actor,
            "runbook": runbook,
            "task": task_value,
            "change": change,
            "link": link,
        });
        if let Value::Object(roots) = &mut values {
            roots.insert("Event".to_owned(), payload.clone());
        }
        json!({ "payload": payload, "values": values })
    }

    /// Claims due deliveries, as many as `sending` has room for, and starts one attempt of each there.
    async fn send_due_deliveries(&self, sending: &mut tokio::task::JoinSet<()>) -> Result<(), EngineError> {
        let room = MAX_IN_FLIGHT.saturating_sub(sending.len());
        if room == 0 {
            return Ok(());
        }
        let now = self.now().as_millisecond();
        let request = ClaimRequest {
            owner: self.inner.settings.name.clone(),
            now,
            lease_until: now + self.inner.settings.lease.as_millis() as i64,
            limit: room as i64,
        };
        for delivery in self.inner.store.claim_deliveries(&request).await? {
            let engine = self.clone();
            sending.spawn(async move {
                let (event_id, integration) = (delivery.event_id, delivery.event_integration_id);
                if let Err(error) = engine.send_delivery(delivery).await {
                    tracing::warn!(%error, event_id, %integration, "an event delivery step failed; retried after its lease");
                }
            });
        }
        Ok(())
    }

    /// Sends one attempt of a delivery and records it under the lease.
    async fn send_delivery(&self, delivery: DeliveryRecord) -> Result<(), EngineError> {
        let owner = self.inner.settings.name.clone();
        let mut entries: Vec<Value> = serde_json::from_str(&delivery.entries).unwrap_or_default();
        let update = |status, outcome, state: Option<String>, entries: &Vec<Value>, due_at| DeliveryUpdate {
            event_id: delivery.event_id,
            event_integration_id: delivery.event_integration_id,
            part: delivery.part,
            owner: owner.clone(),
            status,
            outcome,
            state,
            entries: Value::Array(entries.clone()).to_string(),
            due_at,
        };
        let prepared = match self.prepare_delivery(&delivery).await {
            Ok(prepared) => prepared,
            Err(reason) => {
                let note = LogEntry::Note(NoteRecord { at: self.now(), message: reason });
                entries.push(serde_json::to_value(&note).unwrap_or(Value::Null));
                let failed = update(
                    DeliveryStatus::Done,
                    Some(DeliveryOutcome::Failed),
                    delivery.state.clone(),
                    &entries,
                    delivery.due_at,
                );
                self.inner.store.record_delivery(&failed, self.now().as_millisecond()).await?;
                return Ok(());
            }
        };
        let state = match delivery.state.as_deref().map(serde_json::from_str::<FireState>) {
            Some(Ok(state)) => state,
            _ => self.inner.executor.begin(&prepared.action, &prepared.context, delivery.idempotency_key.clone()),
        };
        let step = {
            let step = self.inner.executor.step(&prepared.action, &prepared.context, state);
            tokio::pin!(step);
            let lease = self.inner.settings.lease;
            let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + lease / 3, lease / 3);
            loop {
                tokio::select! {
                    step = &mut step => break step,
                    _ = renew.tick() => {
                        let until = self.now().as_millisecond() + lease.as_millis() as i64;
                        let renewed = self.inner.store.renew_delivery_lease(
                            &owner, delivery.event_id, delivery.event_integration_id, until).await;
                        if let Err(error) = renewed {
                            tracing::warn!(%error, "renewing an event delivery's lease failed");
                        }
                    }
                }
            }
        };
        entries.extend(step.entries.iter().map(|entry| serde_json::to_value(entry).unwrap_or(Value::Null)));
        let recorded = match step.outcome {
            StepOutcome::Done(result) => {
                let outcome = if result.succeeded { DeliveryOutcome::Delivered } else { DeliveryOutcome::Failed };
                update(DeliveryStatus::Done, Some(outcome), None, &entries, delivery.due_at)
            }
            StepOutcome::WaitUntil { at, state } => {
                let state = serde_json::to_string(&state).ok();
                update(DeliveryStatus::Due, None, state, &entries, at.as_millisecond())
            }
            StepOutcome::AwaitCallback { .. } => {
                let note = LogEntry::Note(NoteRecord {
                    at: self.now(),
                    message: "an event integration does not wait for callbacks".to_owned(),
                });
                entries.push(serde_json::to_value(&note).unwrap_or(Value::Null));
                update(DeliveryStatus::Done, Some(DeliveryOutcome::Failed), None, &entries, delivery.due_at)
            }
        };
        if !self.inner.store.record_delivery(&recorded, self.now().as_millisecond()).await? {
            tracing::debug!(event_id = delivery.event_id, "an event delivery's lease was lost before its record");
        }
        Ok(())
    }

    /// The compiled request and the context of a delivery; `Err` is why it cannot be sent (it fails).
    async fn prepare_delivery(&self, delivery: &DeliveryRecord) -> Result<PreparedDelivery, String> {
        let record = self
            .inner
            .store
            .event_integration(delivery.event_integration_id, true)
            .await
            .map_err(|error| error.to_string())?
            .ok_or_else(|| "the event integration was deleted".to_owned())?;
        let mut action = record.definition.as_action();
        if let Some(request) = &mut action.request
            && request.payload.is_none()
            && matches!(request.method, HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch)
        {
            // The default payload: the event as JSON.
            request.payload = Some(BodyTemplate::Text("{{Event | json}}".to_owned()));
            if !request.headers.keys().any(|name| name.eq_ignore_ascii_case("content-type")) {
                request.headers.insert("Content-Type".to_owned(), "application/json".to_owned());
            }
        }
        let action = PreparedAction::compile(&action).map_err(|error| error.to_string())?;
        let document: Value = serde_json::from_str(&delivery.event).map_err(|error| error.to_string())?;
        let parameters = self.inner.catalog.parameters().await.map_err(|error| error.to_string())?;
        let values = with_parameters(document.get("values").cloned().unwrap_or(Value::Null), &parameters);
        let task = delivery.task_id.clone().unwrap_or_default();
        let mut context = FireContext::new(
            format!("event-{}-{}", delivery.event_id, delivery.part),
            delivery.runbook_id.0.to_string(),
            task.clone(),
            values.clone(),
        );
        for parameter in parameters.iter().filter(|parameter| parameter.secret) {
            context = context.with_secret(parameter.value.expose());
        }
        let parameter_values = values.get("SystemParameter").cloned().unwrap_or(Value::Null);
        let auth = resolve_auth(&record.definition.auth, &parameter_values, &self.inner.executor.config().outbound)
            .map_err(|error| match error {
                AuthResolutionError::Auth(error) => error.to_string(),
                AuthResolutionError::Refused { reason } => reason,
            })?;
        let provider = self.inner.authenticator.provider(auth);
        let subject = FireSubject {
            action: format!("event-integration-{}", record.id),
            runbook: delivery.runbook_id.0.to_string(),
            task,
            user: None,
        };
        context = context.with_auth(provider, subject);
        Ok(PreparedDelivery { action, context })
    }
}

/// The part of a delivery's document (see `Engine::delivery_document`) that its view shows: the runbook's name.
#[derive(serde::Deserialize)]
struct RoutedDocument {
    payload: RoutedPayload,
}

#[derive(serde::Deserialize)]
struct RoutedPayload {
    runbook: RoutedRunbook,
}

#[derive(serde::Deserialize)]
struct RoutedRunbook {
    name: Option<String>,
}

/// What woke the delivery loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// The poll interval passed (also the loop's first pass).
    Tick,
    /// This engine logged events.
    Logged,
    /// A delivery in flight ended.
    Sent,
}

/// What a routing pass found.
struct Routing {
    /// Event integrations stored, enabled or not.
    integrations: usize,
    /// Deliveries created.
    routed: usize,
}

/// What the executor needs for a delivery's step.
struct PreparedDelivery {
    action: PreparedAction,
    context: FireContext,
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_model::IntegrationStatus;
    use cutover_integrations_runbook::FireNumber;

    #[test]
    fn engine_events_make_the_documented_event_types() {
        let task = |to| Event::TaskStageChanged { task: "a".into(), from: TaskStage::Startable, to };
        let stage = |from, to| Event::RunbookStageChanged { from, to, mode: Some(RunMode::Live) };
        let a = Some("a".to_owned());
        type Made = Vec<(EventType, Option<String>)>;
        let cases: Vec<(Event, Made)> = vec![
            (task(TaskStage::InProgress), vec![(EventType::TaskStarted, a.clone())]),
            (task(TaskStage::Complete), vec![(EventType::TaskFinished, a.clone())]),
            (task(TaskStage::Skipped), vec![(EventType::TaskSkipped, a.clone())]),
            (task(TaskStage::Startable), vec![]),
            (
                Event::IntegrationStatusChanged {
                    task: "a".into(),
                    fire: FireNumber::FIRST,
                    status: IntegrationStatus::Failed,
                    reason: None,
                },
                vec![(EventType::TaskFailed, a.clone())],
            ),
            (
                Event::IntegrationStatusChanged {
                    task: "a".into(),
                    fire: FireNumber::FIRST,
                    status: IntegrationStatus::Running,
                    reason: None,
                },
                vec![],
            ),
            (
                stage(RunbookStage::Planning, RunbookStage::Active),
                vec![(EventType::RunbookStarted, None), (EventType::RunStarted, None)],
            ),
            (
                stage(RunbookStage::Active, RunbookStage::Complete),
                vec![(EventType::RunbookFinished, None), (EventType::RunFinished, None)],
            ),
            (stage(RunbookStage::Active, RunbookStage::Cancelled), vec![(EventType::RunFinished, None)]),
            (stage(RunbookStage::Active, RunbookStage::Paused), vec![(EventType::RunbookUpdated, None)]),
            (
                Event::CustomFieldsChanged { task: None, fields: vec!["F".into()] },
                vec![(EventType::RunbookUpdated, None)],
            ),
            (Event::CustomFieldsChanged { task: Some("a".into()), fields: vec!["F".into()] }, vec![]),
            (Event::RunbookCreated, vec![]),
            (Event::TaskAdded { task: "a".into() }, vec![(EventType::TaskCreated, a.clone())]),
            (
                Event::TasksCreated { tasks: vec!["a".into(), "b".into()] },
                vec![(EventType::TaskCreated, a.clone()), (EventType::TaskCreated, Some("b".into()))],
            ),
            (Event::TaskEdited { task: "a".into() }, vec![]),
            (Event::TaskRemoved { task: "a".into() }, vec![]),
        ];
        for (event, expected) in cases {
            assert_eq!(event_types_of(&event), expected, "{event:?}");
        }
    }
}
