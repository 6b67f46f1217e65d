//! Applying changes to a runbook and committing them: the outbox, with group commit.
//!
//! Every change of a runbook (a command, a fire's outcome, a timer) is queued on the runbook's slot. One task per
//! runbook takes everything queued, applies it in order to the cached state, and commits the new state with all the
//! changes' effects (due fires, timers) and their own writes (fire records, log entries) in one transaction; then it
//! answers each change. Changes that arrive while a commit is in flight go into the next one. So a run with many fires
//! finishing at once costs one commit per batch, not per fire, and a lone change costs one commit as before.
//!
//! The batch is committed against the version this engine cached. If another engine wrote the runbook first, the store
//! reads it again inside the committing transaction, under its lock, and the batch is applied once more to that state
//! ([`Store::commit_runbook`](cutover_integrations_store::Store::commit_runbook)). If the commit fails for any other
//! reason, the batch's changes are committed one by one, so that each caller learns its own outcome.
//!
//! Who commits: a fire's report is committed by the fire's own task when no commit of the runbook is under way (the
//! common case of a lone change costs no hand-over to another task), otherwise by the task already committing. A
//! command from outside ([`Engine::command`](crate::Engine::command)) is committed by a spawned task, so that a
//! caller who stops waiting (an HTTP client that went away) never interrupts a commit that carries other changes;
//! should a committing task be dropped anyway, the queue is handed to a new task.
//!
//! A component that owns its state: [`CommitQueue`] keeps the runbooks this engine holds in memory and is given what
//! it uses (the store, the clock, the dispatcher it hands new fires to, the event log it tells of committed events);
//! it knows nothing of the engine, which builds it (`engine.rs`) and calls it.

use crate::dispatcher::Dispatcher;
use crate::error::EngineError;
use crate::event_log::EventLog;
use crate::events::EngineEvent;
use crate::fire_doc::FireDoc;
use crate::fire_inputs::{LocalFire, TaskInputs};
use crate::stored_runbook::Loaded;
use crate::task_snapshot::{TaskSnapshot, snapshot};
use cutover_integrations_http::Timer;
use cutover_integrations_model::RunbookStage;
use cutover_integrations_runbook::{Actor, Command, Effect, Event, RunbookError};
use cutover_integrations_store::{
    Commit, Committed, FireKind, FireRecord, FireStatus, FireUpdate, NewEvent, NewFire, NewLogRecord, NewTimer,
    RunbookId, RunbookRecord, RunbookWrite, Store, StoreError, TimerId,
};
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

/// At most this many changes go into one commit (a SQLite statement takes a bounded number of parameters).
const MAX_BATCH: usize = 128;

/// How many entries the engine's caches hold ([`Engine::cached`](crate::Engine::cached)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSizes {
    /// Runbook states.
    pub runbooks: usize,
    /// Compiled actions.
    pub actions: usize,
}

/// Writes that ride along with a runbook change in its commit.
#[derive(Clone)]
pub(crate) enum ExtraWrite {
    Fire(FireUpdate),
    Log(NewLogRecord),
    DeleteTimer(TimerId),
}

/// A change to apply to a runbook.
pub(crate) struct Change {
    pub(crate) command: Command,
    pub(crate) actor: Actor,
    /// Whether a refusal still writes `extra`, leaving the runbook as it is: a fire's outcome that its task no longer
    /// wants (cancelled, refired) is kept in the fire's record. Otherwise a refusal writes nothing and is returned.
    pub(crate) keep_writes_if_refused: bool,
    pub(crate) extra: Vec<ExtraWrite>,
    /// Apply only to the runbook at this version (an `If-Match`), as the first change of its commit; otherwise the
    /// change is refused as stale.
    pub(crate) expected_version: Option<i64>,
    /// The task to answer with, as the commit that recorded the change left it (copied while the committing task
    /// holds the runbook, so the caller does not wait for the runbook behind the next commit).
    pub(crate) answer_task: Option<String>,
}

impl Change {
    /// A command from `actor`.
    pub(crate) fn command(command: Command, actor: &Actor) -> Self {
        Self {
            command,
            actor: actor.clone(),
            keep_writes_if_refused: false,
            extra: Vec::new(),
            expected_version: None,
            answer_task: None,
        }
    }

    /// A report about a fire (its outcome or progress) with the fire's own writes.
    pub(crate) fn fire_report(command: Command, extra: Vec<ExtraWrite>) -> Self {
        Self {
            command,
            actor: Actor::engine(),
            keep_writes_if_refused: true,
            extra,
            expected_version: None,
            answer_task: None,
        }
    }
}

/// Who commits a queue that nobody is committing.
#[derive(Clone, Copy)]
enum Committer {
    /// The task that queued the change.
    Caller,
    /// A new task.
    Spawned,
}

/// The commit queue of an engine; see the module documentation.
pub(crate) struct CommitQueue {
    store: Arc<dyn Store>,
    timer: Arc<dyn Timer>,
    /// Where new fires leased to this engine go, and whether they are leased to it at all.
    dispatcher: Arc<Dispatcher>,
    /// Told of the events each commit wrote.
    event_log: Arc<EventLog>,
    settings: CommitSettings,
    /// Per runbook, the cached state and the queue of changes to commit.
    runbooks: Mutex<HashMap<RunbookId, Arc<RunbookSlot>>>,
}

/// What a commit queue is told of its engine's settings.
pub(crate) struct CommitSettings {
    /// The engine's name: the owner of the leases of the fires it creates while its dispatcher runs.
    pub(crate) engine_name: String,
    /// How long those leases last.
    pub(crate) lease: Duration,
    /// At most this many runbooks are kept
    /// ([`EngineSettings::max_cached_runbooks`](crate::EngineSettings::max_cached_runbooks)).
    pub(crate) max_cached_runbooks: usize,
}

/// Hands the queue to a new task if the committing one is dropped before the queue is empty.
struct Handover<'a> {
    queue: &'a Arc<CommitQueue>,
    id: RunbookId,
    slot: &'a Arc<RunbookSlot>,
    done: bool,
}

impl Drop for Handover<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // No runtime left (it is shutting down): nothing runs any more, and what was not committed is not lost
        // either, as fires' leases bring their work back.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (queue, id, slot) = (self.queue.clone(), self.id, self.slot.clone());
        runtime.spawn(async move { queue.commit_queue(id, slot).await });
    }
}

/// A queued change and where its answer goes.
struct Pending {
    change: Change,
    reply: Reply,
}

/// Where the answer to a change goes.
type Reply = oneshot::Sender<Result<Answer, EngineError>>;

/// The answer to a change that was applied.
pub(crate) struct Answer {
    /// The events it caused.
    pub(crate) events: Vec<Event>,
    /// The task it asked for ([`Change::answer_task`]) as its commit left it; `None` if it asked for none or the
    /// runbook has no such task.
    pub(crate) task: Option<Box<TaskSnapshot>>,
}

/// Per runbook: the cached state (locked while a batch is applied and committed) and the queue of changes.
#[derive(Default)]
pub(crate) struct RunbookSlot {
    /// The runbook as last read or committed; empty until read, and after a failed commit.
    pub(crate) cached: tokio::sync::Mutex<Option<Arc<Loaded>>>,
    queue: Mutex<Vec<Pending>>,
    /// Whether a task is committing this queue.
    committing: AtomicBool,
    /// When the slot was last asked for (a tick of [`USES`]), for dropping the least recently used.
    last_used: AtomicU64,
}

impl RunbookSlot {
    /// Whether the cached runbook is complete or cancelled (`false` when nothing is cached or it is in use).
    fn finished(&self) -> bool {
        self.cached.try_lock().is_ok_and(|cached| {
            cached
                .as_ref()
                .is_some_and(|loaded| matches!(loaded.state.stage(), RunbookStage::Complete | RunbookStage::Cancelled))
        })
    }
}

/// A clock of slot uses: only its order matters.
static USES: AtomicU64 = AtomicU64::new(0);

/// Drops idle slots until the cache holds 7/8 of `limit` (so that a sweep's cost is spread over the insertions that
/// follow it): finished runbooks first, then the least recently used. A slot is idle when the map holds its only
/// reference: nobody is committing, reading or waiting on it, and nobody can take it while the map is locked. A
/// runbook dropped is read again from the store when next needed.
fn evict(runbooks: &mut HashMap<RunbookId, Arc<RunbookSlot>>, limit: usize) {
    let target = limit - limit / 8;
    let excess = (runbooks.len() + 1).saturating_sub(target);
    if excess == 0 {
        return;
    }
    let mut idle: Vec<(bool, u64, RunbookId)> = runbooks
        .iter()
        .filter(|(_, slot)| Arc::strong_count(slot) == 1)
        .map(|(id, slot)| (!slot.finished(), slot.last_used.load(Ordering::Relaxed), *id))
        .collect();
    if idle.len() > excess {
        idle.select_nth_unstable(excess);
    }
    for (_, _, id) in idle.into_iter().take(excess) {
        runbooks.remove(&id);
    }
}

/// How one change of a batch came out.
enum Outcome {
    Applied {
        events: Vec<Event>,
        task: Option<Box<TaskSnapshot>>,
    },
    Refused(RunbookError),
    /// The change expected another version of the runbook.
    Stale {
        runbook: RunbookId,
        expected: i64,
    },
}

/// A batch applied to a state, ready to commit.
struct Plan {
    commit: Commit,
    landed: Landed,
}

/// What to do once a batch's commit landed.
struct Landed {
    outcomes: Vec<Outcome>,
    /// The fires created, leased to this engine, to hand to its dispatcher.
    local_fires: Vec<NewFire>,
}

impl CommitQueue {
    /// A commit queue over `store` holding no runbook yet; new fires go to `dispatcher`, committed events are told to
    /// `event_log`.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        timer: Arc<dyn Timer>,
        dispatcher: Arc<Dispatcher>,
        event_log: Arc<EventLog>,
        settings: CommitSettings,
    ) -> Self {
        Self { store, timer, dispatcher, event_log, settings, runbooks: Mutex::new(HashMap::new()) }
    }

    fn now(&self) -> Timestamp {
        self.timer.now()
    }

    /// Applies `change` to a runbook and commits it (with whatever else is queued for the runbook) in a spawned task;
    /// returns the events it caused, or the refusal.
    pub(crate) async fn apply(self: &Arc<Self>, id: RunbookId, change: Change) -> Result<Vec<Event>, EngineError> {
        Ok(self.enqueue(id, change, Committer::Spawned).await?.events)
    }

    /// Like [`CommitQueue::apply`], answering also with the task the change names in [`Change::answer_task`].
    pub(crate) async fn apply_answering(
        self: &Arc<Self>,
        id: RunbookId,
        change: Change,
    ) -> Result<Answer, EngineError> {
        self.enqueue(id, change, Committer::Spawned).await
    }

    /// Like [`CommitQueue::apply`], committing in the calling task when no commit of the runbook is under way: for
    /// fire reports, whose tasks are not cancelled.
    pub(crate) async fn apply_here(self: &Arc<Self>, id: RunbookId, change: Change) -> Result<Vec<Event>, EngineError> {
        Ok(self.enqueue(id, change, Committer::Caller).await?.events)
    }

    /// Like [`CommitQueue::apply_here`] for changes queued together, so that they land in one commit (unless a batch
    /// is full); answered in their order.
    pub(crate) async fn apply_all_here(
        self: &Arc<Self>,
        id: RunbookId,
        changes: Vec<Change>,
    ) -> Vec<Result<Vec<Event>, EngineError>> {
        let slot = self.slot(id);
        let answers: Vec<_> = {
            let mut queue = lock(&slot.queue);
            changes
                .into_iter()
                .map(|change| {
                    let (reply, answer) = oneshot::channel();
                    queue.push(Pending { change, reply });
                    answer
                })
                .collect()
        };
        if !slot.committing.swap(true, Ordering::AcqRel) {
            self.commit_queue(id, slot).await;
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(answer.await.unwrap_or(Err(EngineError::ShuttingDown)).map(|answer| answer.events));
        }
        results
    }

    async fn enqueue(
        self: &Arc<Self>,
        id: RunbookId,
        change: Change,
        committer: Committer,
    ) -> Result<Answer, EngineError> {
        let slot = self.slot(id);
        let (reply, answer) = oneshot::channel();
        lock(&slot.queue).push(Pending { change, reply });
        if !slot.committing.swap(true, Ordering::AcqRel) {
            match committer {
                Committer::Caller => self.commit_queue(id, slot).await,
                Committer::Spawned => {
                    let queue = self.clone();
                    tokio::spawn(async move { queue.commit_queue(id, slot).await });
                }
            }
        }
        // The committing task was dropped with its reply: only a runtime that is shutting down does that.
        answer.await.unwrap_or(Err(EngineError::ShuttingDown))
    }

    /// Commits the queue of one runbook until it is empty.
    async fn commit_queue(self: &Arc<Self>, id: RunbookId, slot: Arc<RunbookSlot>) {
        let mut handover = Handover { queue: self, id, slot: &slot, done: false };
        loop {
            let batch: Vec<Pending> = {
                let mut queue = lock(&slot.queue);
                let take = queue.len().min(MAX_BATCH);
                queue.drain(..take).collect()
            };
            if batch.is_empty() {
                slot.committing.store(false, Ordering::Release);
                // A change queued after the queue was found empty, by a caller that still saw this task committing,
                // would wait forever: look once more, and carry on unless another task took over.
                if lock(&slot.queue).is_empty() || slot.committing.swap(true, Ordering::AcqRel) {
                    handover.done = true;
                    return;
                }
                continue;
            }
            let mut cached = slot.cached.lock().await;
            self.commit_batch(id, &mut cached, batch).await;
        }
    }

    /// Applies a batch to the cached state and commits it; answers every change.
    async fn commit_batch(&self, id: RunbookId, cached: &mut Option<Arc<Loaded>>, batch: Vec<Pending>) {
        let (changes, replies): (Vec<Change>, Vec<_>) =
            batch.into_iter().map(|pending| (pending.change, pending.reply)).unzip();
        let mut loaded = match cached.take() {
            Some(loaded) => loaded,
            None => match self.read(id).await {
                Ok(loaded) => Arc::new(loaded),
                Err(error) => return self.commit_one_by_one(id, cached, changes, replies, error).await,
            },
        };
        let now = self.now();
        // The state machine validates before it mutates: a refused change leaves the state as it was.
        let plan = self.plan(id, Arc::make_mut(&mut loaded), &changes, now);
        let plan = match plan {
            Ok(plan) => plan,
            Err(error) => return self.commit_one_by_one(id, cached, changes, replies, error).await,
        };
        let Plan { commit, landed } = plan;
        if commit.runbook.is_none() {
            // Every change was refused: nothing to write, the state is unchanged.
            *cached = Some(loaded);
            return answer(replies, landed.outcomes);
        }
        let mut rebuilt: Option<(Loaded, Landed)> = None;
        let mut unreadable: Option<EngineError> = None;
        let mine = &loaded;
        let mut rebuild = |record: &RunbookRecord| -> Option<Commit> {
            // `record` holds every part that differs between the stored runbook and this engine's copy: the parts
            // written since the copy's version, and those this batch changed.
            let mut fresh = match mine.with_changes(record) {
                Ok(fresh) => fresh,
                Err(error) => {
                    unreadable = Some(error);
                    return None;
                }
            };
            match self.plan(id, &mut fresh, &changes, now) {
                Ok(plan) => {
                    rebuilt = Some((fresh, plan.landed));
                    // Every change refused against the fresh state: the commit writes nothing.
                    Some(plan.commit)
                }
                Err(error) => {
                    unreadable = Some(error);
                    None
                }
            }
        };
        let result = self.store.commit_runbook(commit, &mut rebuild).await;
        match result {
            Ok(Some(committed)) => {
                let (mut loaded, landed) = match rebuilt {
                    Some((fresh, landed)) => (Arc::new(fresh), landed),
                    None => (loaded, landed),
                };
                if let Some(version) = committed.runbook_version {
                    Arc::make_mut(&mut loaded).version = version;
                }
                self.after_commit(id, &landed, &committed, &loaded);
                let mut outcomes = landed.outcomes;
                for (change, outcome) in changes.iter().zip(&mut outcomes) {
                    if let (Some(name), Outcome::Applied { task, .. }) = (&change.answer_task, outcome) {
                        *task = snapshot(&loaded, id, name).ok().map(Box::new);
                    }
                }
                *cached = Some(loaded);
                answer(replies, outcomes);
            }
            Ok(None) => {
                let error = unreadable.unwrap_or_else(|| EngineError::Corrupt {
                    what: "runbook",
                    reason: "the stored state could not be read".to_owned(),
                    source: None,
                });
                self.commit_one_by_one(id, cached, changes, replies, error).await;
            }
            Err(error) => self.commit_one_by_one(id, cached, changes, replies, error.into()).await,
        }
    }

    /// After a batch failed: the cached state holds changes that did not land, so it is dropped, and each change is
    /// committed alone so that it gets its own outcome. A lone change gets the error itself.
    async fn commit_one_by_one(
        &self,
        id: RunbookId,
        cached: &mut Option<Arc<Loaded>>,
        changes: Vec<Change>,
        replies: Vec<Reply>,
        error: EngineError,
    ) {
        *cached = None;
        if changes.len() == 1 {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(error));
            }
            return;
        }
        tracing::debug!(%error, "a batched commit failed; committing its changes one by one");
        for (change, reply) in changes.into_iter().zip(replies) {
            Box::pin(self.commit_batch(id, cached, vec![Pending { change, reply }])).await;
        }
    }

    /// Applies `changes` in order to the runbook's state and builds the commit of the result.
    fn plan(
        &self,
        id: RunbookId,
        loaded: &mut Loaded,
        changes: &[Change],
        now: Timestamp,
    ) -> Result<Plan, EngineError> {
        let mut commit = Commit { now: now.as_millisecond(), ..Default::default() };
        let mut outcomes = Vec::with_capacity(changes.len());
        // New fires are leased to this engine and handed to its dispatcher in memory, when it runs one; otherwise
        // they are left for any engine's dispatcher to claim.
        let lease = self.dispatcher.is_running().then(|| {
            (self.settings.engine_name.clone(), now.as_millisecond() + self.settings.lease.as_millis() as i64)
        });
        let mut changed = false;
        // Whatever a failed batch left recorded is not this batch's.
        loaded.state.take_changed_tasks();
        for change in changes {
            if let Some(expected) = change.expected_version
                && (changed || expected != loaded.version)
            {
                outcomes.push(Outcome::Stale { runbook: id, expected });
                continue;
            }
            match loaded.state.apply(change.command.clone(), &change.actor, now) {
                Ok(effects) => {
                    changed = true;
                    let events = add_effects(id, &mut commit, effects, lease.as_ref(), now)?;
                    // The events go to the durable log in this commit: a crash cannot keep the change and lose them.
                    for event in &events {
                        let body = crate::event_log::logged_body(id, event, &change.actor)?;
                        commit.events.push(NewEvent { runbook_id: id, body });
                    }
                    add_writes(&mut commit, &change.extra);
                    outcomes.push(Outcome::Applied { events, task: None });
                }
                Err(refusal) if change.keep_writes_if_refused => {
                    tracing::debug!(%refusal, "a fire report did not change its runbook");
                    changed = true;
                    add_writes(&mut commit, &change.extra);
                    outcomes.push(Outcome::Applied { events: Vec::new(), task: None });
                }
                Err(refusal) => outcomes.push(Outcome::Refused(refusal)),
            }
        }
        if changed {
            let positions = loaded.state.take_changed_tasks();
            let tasks = loaded.task_rows(&positions)?;
            let state = loaded.header_document()?;
            commit.runbook = Some(RunbookWrite { id, expected_version: loaded.version, state, tasks });
        }
        let local_fires = if lease.is_some() { commit.new_fires.clone() } else { Vec::new() };
        Ok(Plan { commit, landed: Landed { outcomes, local_fires } })
    }

    /// Tells listeners, and hands the fires leased to this engine to its dispatcher.
    fn after_commit(&self, id: RunbookId, landed: &Landed, committed: &Committed, runbook: &Arc<Loaded>) {
        let fire_ids = &committed.fire_ids;
        let mut published = Vec::new();
        for outcome in &landed.outcomes {
            if let Outcome::Applied { events, .. } = outcome {
                published.extend(events.iter().map(|event| EngineEvent { runbook: id, event: event.clone() }));
            }
        }
        self.event_log.publish_committed(published, committed.event_ids.last().copied());
        for (fire, id_of_fire) in landed.local_fires.iter().zip(fire_ids) {
            let record = FireRecord {
                id: *id_of_fire,
                runbook_id: id,
                task_id: fire.task_id.clone(),
                kind: fire.kind,
                idempotency_key: fire.idempotency_key.clone(),
                status: fire.status,
                state: fire.state.clone(),
                due_at: fire.due_at,
                lease_owner: fire.lease.as_ref().map(|(owner, _)| owner.clone()),
                lease_until: fire.lease.as_ref().map(|(_, until)| *until),
                callback_token_hash: None,
            };
            match TaskInputs::of(runbook, &record) {
                Ok(inputs) => self.dispatcher.hand_over(LocalFire { record, inputs }),
                // Not in the runbook it was created in: left to its lease, claimed again, and failed there.
                Err(error) => tracing::warn!(%error, fire = record.id.0, "a new fire's task is missing"),
            }
        }
        if fire_ids.len() > landed.local_fires.len() {
            // Fires for any engine to claim: this engine's dispatcher (if any) looks now rather than at its next tick.
            self.dispatcher.wake();
        }
    }

    pub(crate) fn slot(&self, id: RunbookId) -> Arc<RunbookSlot> {
        let mut runbooks = self.runbooks.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match runbooks.get(&id) {
            Some(slot) => slot.clone(),
            None => {
                let limit = self.settings.max_cached_runbooks.max(1);
                if runbooks.len() >= limit {
                    evict(&mut runbooks, limit);
                }
                runbooks.entry(id).or_default().clone()
            }
        };
        slot.last_used.store(USES.fetch_add(1, Ordering::Relaxed), Ordering::Relaxed);
        slot
    }

    /// How many runbooks are kept in memory now.
    pub(crate) fn cached_runbooks(&self) -> usize {
        self.runbooks.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The runbook as stored now: the cached state if its version is still the stored one (one small query), else
    /// read again. For work that other engines may have changed the runbook under: claimed fires, callbacks, reads.
    pub(crate) async fn load_fresh(&self, id: RunbookId) -> Result<Arc<Loaded>, EngineError> {
        let slot = self.slot(id);
        let mut cached = slot.cached.lock().await;
        let loaded = match cached.as_ref() {
            Some(known) => match self.store.runbook_if_changed(id, known.version).await? {
                None => return Ok(known.clone()),
                Some(changes) if changes.version > known.version => Arc::new(known.with_changes(&changes)?),
                // Older than known (a database restored from a backup): read whole.
                Some(record) => Arc::new(Loaded::from_record(&record, None)?),
            },
            None => Arc::new(self.read(id).await?),
        };
        *cached = Some(loaded.clone());
        Ok(loaded)
    }

    async fn read(&self, id: RunbookId) -> Result<Loaded, EngineError> {
        let record = self
            .store
            .runbook(id)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: "runbook", id: id.to_string() })?;
        Loaded::from_record(&record, None)
    }
}

/// Adds a change's effects to the commit; returns its events.
fn add_effects(
    id: RunbookId,
    commit: &mut Commit,
    effects: Vec<Effect>,
    lease: Option<&(String, i64)>,
    now: Timestamp,
) -> Result<Vec<Event>, EngineError> {
    let mut events = Vec::new();
    for effect in effects {
        match effect {
            Effect::Fire { task, fire, delivery } => commit.new_fires.push(NewFire {
                idempotency_key: idempotency_key(id, &task, fire.get()),
                task_id: task,
                runbook_id: None,
                kind: FireKind::Action(fire),
                status: FireStatus::Due,
                state: FireDoc::new(delivery).to_json()?,
                due_at: now.as_millisecond(),
                lease: lease.cloned(),
                callback_token_hash: None,
            }),
            Effect::CancelFire { task, fire, notify } => {
                if notify {
                    commit.new_fires.push(NewFire {
                        idempotency_key: format!("{}-cancel", idempotency_key(id, &task, fire.get())),
                        task_id: task,
                        runbook_id: None,
                        kind: FireKind::CancelNotice(fire),
                        status: FireStatus::Due,
                        state: FireDoc::cancel_notice(fire).to_json()?,
                        due_at: now.as_millisecond(),
                        lease: lease.cloned(),
                        callback_token_hash: None,
                    });
                }
                // The fire itself stops lazily: its next step sees the task no longer runs it.
            }
            Effect::ScheduleWakeUp { at, task } => commit.new_timers.push(NewTimer {
                runbook_id: id,
                task_id: Some(task),
                kind: "fixed_start".to_owned(),
                due_at: at.as_millisecond(),
            }),
            Effect::Event(event) => events.push(event),
        }
    }
    Ok(events)
}

fn add_writes(commit: &mut Commit, writes: &[ExtraWrite]) {
    for write in writes {
        match write {
            ExtraWrite::Fire(update) => commit.fire_updates.push(update.clone()),
            ExtraWrite::Log(record) => commit.log_records.push(record.clone()),
            ExtraWrite::DeleteTimer(timer) => commit.deleted_timers.push(*timer),
        }
    }
}

/// Answers each change of a committed (or wholly refused) batch.
fn answer(replies: Vec<Reply>, outcomes: Vec<Outcome>) {
    for (reply, outcome) in replies.into_iter().zip(outcomes) {
        let _ = reply.send(match outcome {
            Outcome::Applied { events, task } => Ok(Answer { events, task }),
            Outcome::Refused(refusal) => Err(refusal.into()),
            Outcome::Stale { runbook, expected } => {
                Err(StoreError::Stale { what: "runbook", id: runbook.0, expected }.into())
            }
        });
    }
}

/// The idempotency key of a new fire. It is stored with the fire, so it stays the same across automatic retries and
/// re-sends after a crash; a refire is a new fire with a new key. The random part keeps keys of different databases
/// apart at a third party that sees several.
fn idempotency_key(runbook: RunbookId, task: &str, fire: u32) -> String {
    let task: String = task
        .chars()
        .take(40)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    format!("cutover-{runbook}-{task}-{fire}-{:016x}", rand::random::<u64>())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
