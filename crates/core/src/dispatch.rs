//! The dispatcher: claims due fires and timers, runs fires through the executor one step at a time, and records each
//! step's outcome with the runbook's next state in one transaction.
//!
//! A fire row holds a [`FireDoc`]: what kind of work it is and the executor's [`FireState`] between steps. A step is
//! taken under a lease that is renewed while the request is in flight; if the engine dies, the lease expires and
//! another engine (or this one after a restart) takes the step again with the same `Idempotency-Key`.

use crate::catalog::{ActionLookup, CachedAction};
use crate::commit_queue::{Change, ExtraWrite};
use crate::dispatcher::StepSlot;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::fire_doc::{FireDoc, FireOutcome, FireWork};
use crate::fire_inputs::{LocalFire, TaskInputs};
use crate::render::{AuthResolutionError, resolve_auth, with_parameters};
use crate::stored_runbook::Loaded;
use cutover_integrations_auth::FireSubject;
use cutover_integrations_http::{
    AttemptError, CallbackReport, CallbackStatus, ErrorKind, Executor, FireContext, FirePhase, FireState, LogEntry,
    Step, StepOutcome,
};
use cutover_integrations_model::IntegrationStatus;
use cutover_integrations_runbook::Event;
use cutover_integrations_runbook::{Actor, Command, Delivery, FailureKind, FailureReason, FireNumber, ProgressStatus};
use cutover_integrations_store::{
    ClaimRequest, Commit, FireGuard, FireId, FireKind, FireRecord, FireStatus, FireUpdate, LogFire, NewLogRecord,
    RunbookId, StoreError, TimerRecord,
};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a fire's first request is in flight before its task is made `running` by a commit of its own; a request
/// that ends sooner tells `running` in the commit of its outcome.
const RUNNING_REPORT_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// A started engine: its dispatcher runs until [`RunningEngine::shutdown`].
#[derive(Debug)]
pub struct RunningEngine {
    engine: Engine,
    stop: watch::Sender<bool>,
    dispatcher: JoinHandle<()>,
}

impl RunningEngine {
    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops claiming work and waits until every step in flight has been recorded, so nothing is half-written. While
    /// it waits, [`Engine::command`] answers [`EngineError::ShuttingDown`](crate::EngineError::ShuttingDown); once it
    /// returns, the engine takes commands again as an engine without a dispatcher (its new fires are left for any
    /// engine to claim).
    pub async fn shutdown(self) {
        self.engine.inner.dispatcher.set_stopping(true);
        let _ = self.stop.send(true);
        let _ = self.dispatcher.await;
        self.engine.inner.dispatcher.set_stopping(false);
    }
}

impl Engine {
    /// Starts the dispatcher: fires and timers due in the store are run until [`RunningEngine::shutdown`].
    ///
    /// While it runs, fires this engine's commands create are leased to it and handed over in memory; fires created
    /// by other engines, or by this one while it was not dispatching, are claimed from the store at each
    /// [`poll_interval`](crate::EngineSettings::poll_interval). Fires whose lease expired (their engine crashed) are
    /// taken over and sent again with their idempotency key.
    ///
    /// ```
    /// use cutover_integrations_core::model::{RunMode, RunbookStage};
    /// use cutover_integrations_core::runbook::Actor;
    /// use cutover_integrations_core::{Engine, UserCommand, generate_secret_key};
    /// use secrecy::ExposeSecret;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let directory = tempfile::tempdir()?;
    /// # let engine = Engine::builder()
    /// #     .database_url(format!("sqlite://{}", directory.path().join("cutover.db").display()))
    /// #     .secret_key_base64(generate_secret_key().expose_secret())
    /// #     .build()
    /// #     .await?;
    /// # let chat = "kind: integration\nname: Chat\nactions:\n  - name: Notify\n    settings: {auto_start: true, \
    /// #     finish_task_on_success: true}\n    request: {method: POST, url: 'https://chat.example.com/hook'}\n";
    /// # let release = "kind: runbook\nname: Release\ntasks:\n  - {id: announce, name: Announce, action: Chat/Notify}\n";
    /// # let runbook = engine.apply_definitions(&[("chat.yaml", chat), ("release.yaml", release)]).await?.runbooks[0];
    /// let running = engine.start();
    /// let mut events = engine.subscribe();
    /// // The auto-start task fires when the run starts; in a rehearsal its request is logged, not sent.
    /// engine.command(runbook, UserCommand::StartRunbook { mode: RunMode::Rehearsal }, &Actor::engine()).await?;
    /// while engine.runbook(runbook).await?.state.stage() != RunbookStage::Complete {
    ///     events.recv().await?;
    /// }
    /// // Returns once every step under way is recorded.
    /// running.shutdown().await;
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().expect("runtime").block_on(run()).expect("the example runs");
    /// ```
    pub fn start(&self) -> RunningEngine {
        let (stop, stopped) = watch::channel(false);
        let engine = Arc::downgrade(&self.inner);
        self.inner.dispatcher.mark_running(Arc::new(move |fire: LocalFire, slot| {
            if let Some(inner) = engine.upgrade() {
                Engine { inner }.launch(fire.record, Origin::Local(fire.inputs), slot);
            }
        }));
        let engine = self.clone();
        let dispatcher = tokio::spawn(async move { engine.dispatch(stopped).await });
        RunningEngine { engine: self.clone(), stop, dispatcher }
    }

    async fn dispatch(self, mut stopped: watch::Receiver<bool>) {
        let Some(mut local) = self.inner.dispatcher.begin() else {
            tracing::error!("the engine was started twice; the second dispatcher does nothing");
            return;
        };
        // Event integrations' deliveries run beside the fires (see `event_delivery.rs`).
        let deliveries = tokio::spawn(self.clone().deliver_events(stopped.clone()));
        let mut tick = tokio::time::interval(self.inner.settings.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stopped.changed() => break,
                Some(fire) = local.recv() => {
                    self.spawn_fire(fire.record, Origin::Local(fire.inputs)).await;
                    continue;
                }
                () = self.inner.dispatcher.woken() => {}
                _ = tick.tick() => {}
            }
            if let Err(error) = self.claim_due_work().await {
                tracing::warn!(%error, "claiming due work failed; retrying at the next tick");
            }
        }
        // From now on new fires are left for any engine to claim. Fires already handed over stay leased to this
        // engine: they are kept for a next start, or claimed by another engine when their lease ends.
        self.inner.dispatcher.end(local);
        // Wait for the steps in flight: every slot back means every step was recorded (or abandoned to its lease).
        self.inner.dispatcher.drained().await;
        let _ = deliveries.await;
    }

    async fn claim_due_work(&self) -> Result<(), EngineError> {
        let now = self.now().as_millisecond();
        let lease_until = now + self.inner.settings.lease.as_millis() as i64;
        let free = self.inner.dispatcher.free_slots();
        if free > 0 {
            let request =
                ClaimRequest { owner: self.inner.settings.name.clone(), now, lease_until, limit: free as i64 };
            for fire in self.inner.store.claim_fires(&request).await? {
                self.spawn_fire(fire, Origin::Claimed).await;
            }
        }
        let request = ClaimRequest { owner: self.inner.settings.name.clone(), now, lease_until, limit: 64 };
        for timer in self.inner.store.claim_timers(&request).await? {
            if let Err(error) = self.on_timer(&timer).await {
                tracing::warn!(%error, timer = timer.id.0, "a timer could not be applied; it is retried after its lease");
            }
        }
        Ok(())
    }

    async fn spawn_fire(&self, fire: FireRecord, origin: Origin) {
        let Some(slot) = self.inner.dispatcher.slot().await else { return };
        self.launch(fire, origin, slot);
    }

    /// Runs one step of a fire in a task of its own, holding a slot: its request slot until the request has ended,
    /// its record slot until the step is recorded.
    fn launch(&self, fire: FireRecord, origin: Origin, mut slot: StepSlot) {
        let id = fire.id;
        if !self.inner.dispatcher.enter(id) {
            // Handed over in memory and claimed again after its lease ran out while it waited: it runs once here.
            return;
        }
        let engine = self.clone();
        tracing::debug!(fire = id.0, "running a fire step");
        tokio::spawn(async move {
            if let Err(error) = engine.run_fire(fire, origin, &mut slot).await {
                tracing::warn!(%error, fire = id.0, "a fire step could not be recorded; it is retried after its lease");
            }
            engine.inner.dispatcher.leave(id);
            drop(slot);
        });
    }

    /// Whether this engine still holds the lease of a fire handed over in memory. It normally does by far; a fire
    /// that waited long for a free slot is checked (and its lease extended) before it is sent.
    async fn still_leased(&self, fire: &FireRecord) -> Result<bool, EngineError> {
        let now = self.now().as_millisecond();
        let lease = self.inner.settings.lease.as_millis() as i64;
        if fire.lease_until.is_some_and(|until| until - now > lease / 2) {
            return Ok(true);
        }
        let renewed = self.inner.store.renew_fire_leases(&self.inner.settings.name, &[fire.id], now + lease).await?;
        Ok(!renewed.is_empty())
    }

    async fn on_timer(&self, timer: &TimerRecord) -> Result<(), EngineError> {
        let change = Change {
            extra: vec![ExtraWrite::DeleteTimer(timer.id)],
            ..Change::command(Command::TimePassed, &Actor::engine())
        };
        self.inner.commits.apply(timer.runbook_id, change).await?;
        Ok(())
    }

    /// Takes one step of a fire this engine holds the lease of.
    async fn run_fire(&self, fire: FireRecord, origin: Origin, slot: &mut StepSlot) -> Result<(), EngineError> {
        if matches!(origin, Origin::Local(_)) && !self.still_leased(&fire).await? {
            return Ok(());
        }
        let doc = FireDoc::parse(&fire.state)?;
        match doc.work {
            FireWork::Action { delivery } => self.run_action_step(fire, doc, delivery, origin, slot).await,
            FireWork::CancelNotice { of, attempt } => self.run_cancel_notice(fire, doc, of, attempt, slot).await,
        }
    }

    async fn run_action_step(
        &self,
        fire: FireRecord,
        mut doc: FireDoc,
        delivery: Delivery,
        origin: Origin,
        slot: &mut StepSlot,
    ) -> Result<(), EngineError> {
        // A fire this engine created runs with what its task was when its creating commit landed (taken then, so the
        // step neither waits for commits in flight nor keeps the runbook from being changed in place). A claimed fire
        // may come from another engine's commit: the cache is checked against the store first.
        let inputs = match origin {
            Origin::Local(inputs) => inputs,
            Origin::Claimed => TaskInputs::of(&*self.inner.commits.load_fresh(fire.runbook_id).await?, &fire)?,
        };
        if !inputs.current {
            // Cancelled, refired or ended meanwhile: the fire stops here, unsent.
            doc.outcome = Some(FireOutcome::Cancelled);
            return self.close_without_runbook(&fire, &doc, "the fire was cancelled before this step").await;
        }
        let prepared = match self.prepare(&fire, &inputs).await {
            Ok(prepared) => prepared,
            // The store stayed unavailable: nothing is recorded, and the fire is taken again after its lease.
            Err(NotPrepared::StoreUnavailable(error)) => return Err(error.into()),
            Err(NotPrepared::Fails(failure)) => {
                doc.outcome = Some(FireOutcome::Failed);
                let step = Step { outcome: StepOutcome::Done(failure.into_result()), entries: Vec::new() };
                let guard = FireGuard::Lease(self.inner.settings.name.clone());
                return self.record_step(&fire, doc, step, guard, None).await;
            }
        };
        let state = doc.executor.clone().unwrap_or_else(|| {
            self.inner.executor.begin(&prepared.action.prepared, &prepared.context, fire.idempotency_key.clone())
        });
        if delivery == Delivery::RecordOnly {
            let attempt = self.inner.executor.preview(&prepared.action.prepared, &prepared.context, &state);
            doc.executor = Some(state);
            doc.outcome = Some(FireOutcome::NotSent);
            let number = fire.kind.number();
            let task_id = fire.task_id.clone();
            let writes = self.fire_writes(
                &fire,
                &doc,
                FireStatus::Done,
                fire.due_at,
                &[LogEntry::Attempt(Box::new(attempt))],
                FireGuard::Lease(self.inner.settings.name.clone()),
            )?;
            let command = Command::FireNotSent { task: task_id, fire: number };
            self.inner.commits.apply_here(fire.runbook_id, Change::fire_report(command, writes)).await?;
            return Ok(());
        }
        // The first request of a fire makes its task `running`.
        let in_flight = doc.executor.is_none().then(|| Command::FireProgress {
            task: fire.task_id.clone(),
            fire: fire.kind.number(),
            status: ProgressStatus::Running,
            custom_fields: Default::default(),
        });
        let (step, running) = self.step_with_lease(&fire, &prepared, state, in_flight).await;
        // The next step's request goes out while this outcome waits for its commit.
        slot.request_ended();
        self.record_step(&fire, doc, step, FireGuard::Lease(self.inner.settings.name.clone()), running).await
    }

    /// Commits a progress report of a fire whose request is in flight, in a task of its own. A task that no longer
    /// runs this fire keeps its state; the fire goes on either way.
    ///
    /// The report is not committed by the task that takes the step: that task stops polling the step while it
    /// renews the lease, and a commit stopped halfway would hold the store's writer (SQLite's one connection) that
    /// the renewal waits for.
    fn report_in_flight(&self, fire: &FireRecord, report: Command) -> JoinHandle<()> {
        let (engine, runbook, id) = (self.clone(), fire.runbook_id, fire.id);
        tokio::spawn(async move {
            if let Err(error) = engine.inner.commits.apply_here(runbook, Change::fire_report(report, Vec::new())).await
            {
                tracing::debug!(%error, fire = id.0, "a progress report was not recorded");
            }
        })
    }

    /// Takes a step while renewing the fire's lease, so a slow request is not taken over by another engine.
    ///
    /// `running` (the report of a fire's first request) is committed on its own once the request has been in flight
    /// for [`RUNNING_REPORT_AFTER`], and the step ends only when it is recorded (listeners see pending, running, then
    /// the outcome). A quicker request returns it unsent, for [`Engine::record_step`] to commit with the outcome: a
    /// fire then costs no commit more than without the report.
    async fn step_with_lease(
        &self,
        fire: &FireRecord,
        prepared: &Prepared,
        state: FireState,
        mut running: Option<Command>,
    ) -> (Step, Option<Command>) {
        let step = self.inner.executor.step(&prepared.action.prepared, &prepared.context, state);
        tokio::pin!(step);
        let report_due = tokio::time::sleep(RUNNING_REPORT_AFTER);
        tokio::pin!(report_due);
        let mut reporting: Option<JoinHandle<()>> = None;
        let mut taken: Option<Step> = None;
        let lease = self.inner.settings.lease;
        // The first renewal is due a third of a lease from now. (An interval's immediate first tick would cost a
        // timer-wheel tick, about a millisecond, on every step.)
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + lease / 3, lease / 3);
        loop {
            tokio::select! {
                step = &mut step, if taken.is_none() => {
                    if reporting.is_none() {
                        return (step, running);
                    }
                    taken = Some(step);
                }
                () = &mut report_due, if running.is_some() => {
                    reporting = running.take().map(|report| self.report_in_flight(fire, report));
                }
                _ = async { reporting.as_mut().expect("guarded by the branch condition").await }, if reporting.is_some() => {
                    reporting = None;
                    if let Some(step) = taken.take() {
                        return (step, None);
                    }
                }
                _ = renew.tick() => {
                    let until = self.now().as_millisecond() + lease.as_millis() as i64;
                    let owner = &self.inner.settings.name;
                    if let Err(error) = self.inner.store.renew_fire_leases(owner, &[fire.id], until).await {
                        tracing::warn!(%error, fire = fire.id.0, "renewing a lease failed");
                    }
                }
            }
        }
    }

    /// Records a step: the fire row, its log entries and the runbook's reaction, in one transaction, after the
    /// `running` report of the step's request when it was not committed while the request was in flight.
    async fn record_step(
        &self,
        fire: &FireRecord,
        mut doc: FireDoc,
        step: Step,
        guard: FireGuard,
        running: Option<Command>,
    ) -> Result<(), EngineError> {
        let number = fire.kind.number();
        let task = fire.task_id.clone();
        let (status, due_at, command) = match step.outcome {
            StepOutcome::Done(result) => {
                let command = if result.succeeded {
                    doc.outcome = Some(FireOutcome::Succeeded);
                    Command::FireSucceeded { task, fire: number, custom_fields: result.fields }
                } else {
                    doc.outcome = Some(FireOutcome::Failed);
                    let reason = failure_reason(result.failure.as_ref());
                    Command::FireFailed { task, fire: number, reason }
                };
                (FireStatus::Done, fire.due_at, Some(command))
            }
            StepOutcome::WaitUntil { at, state } => {
                let polling = matches!(state.phase, FirePhase::Polling { .. });
                let fields = state.fields.clone();
                doc.executor = Some(state);
                let command = polling.then_some(Command::FireProgress {
                    task,
                    fire: number,
                    status: ProgressStatus::Waiting,
                    custom_fields: fields,
                });
                (FireStatus::Due, at.as_millisecond(), command)
            }
            StepOutcome::AwaitCallback { deadline, state } => {
                let fields = state.fields.clone();
                doc.executor = Some(state);
                let command = Command::FireProgress {
                    task,
                    fire: number,
                    status: ProgressStatus::Waiting,
                    custom_fields: fields,
                };
                (FireStatus::Waiting, deadline.as_millisecond(), Some(command))
            }
        };
        let writes = self.fire_writes(fire, &doc, status, due_at, &step.entries, guard)?;
        // Sent, whether or not the record below lands (if it does not, the step is taken again: another attempt).
        self.tell_attempts(&step.entries);
        if let Some(running) = running {
            // Both in one commit; a refused report (the task no longer runs this fire) changes nothing.
            let changes = match command {
                Some(command) => {
                    vec![Change::fire_report(running, Vec::new()), Change::fire_report(command, writes)]
                }
                None => vec![Change::fire_report(running, writes)],
            };
            for answer in self.inner.commits.apply_all_here(fire.runbook_id, changes).await {
                answer?;
            }
        } else if let Some(command) = command {
            // A progress report the task has already absorbed, or an outcome for a fire the task no longer runs
            // (cancelled, skipped, refired), leaves the runbook as it is; the fire's own record is kept.
            self.inner.commits.apply_here(fire.runbook_id, Change::fire_report(command, writes)).await?;
        } else {
            self.commit_writes(writes).await?;
        }
        Ok(())
    }

    fn fire_writes(
        &self,
        fire: &FireRecord,
        doc: &FireDoc,
        status: FireStatus,
        due_at: i64,
        entries: &[LogEntry],
        guard: FireGuard,
    ) -> Result<Vec<ExtraWrite>, EngineError> {
        let now = self.now().as_millisecond();
        let mut writes = vec![ExtraWrite::Fire(FireUpdate {
            id: fire.id,
            guard,
            status,
            state: doc.to_json()?,
            due_at,
            lease: None,
        })];
        let log_fire = fire.id;
        for entry in entries {
            writes.push(ExtraWrite::Log(NewLogRecord {
                fire: LogFire::Stored(log_fire),
                record: serde_json::to_string(entry).map_err(EngineError::corrupt("actions log record"))?,
                created_at: now,
            }));
        }
        Ok(writes)
    }

    async fn commit_writes(&self, writes: Vec<ExtraWrite>) -> Result<(), EngineError> {
        let mut commit = Commit { now: self.now().as_millisecond(), ..Default::default() };
        for write in writes {
            match write {
                ExtraWrite::Fire(update) => commit.fire_updates.push(update),
                ExtraWrite::Log(record) => commit.log_records.push(record),
                ExtraWrite::DeleteTimer(timer) => commit.deleted_timers.push(timer),
            }
        }
        self.inner.store.commit(commit).await?;
        self.inner.dispatcher.wake();
        Ok(())
    }

    async fn close_without_runbook(&self, fire: &FireRecord, doc: &FireDoc, note: &str) -> Result<(), EngineError> {
        let entry = LogEntry::Note(cutover_integrations_http::NoteRecord { at: self.now(), message: note.to_owned() });
        let writes = self.fire_writes(
            fire,
            doc,
            FireStatus::Done,
            fire.due_at,
            &[entry],
            FireGuard::Lease(self.inner.settings.name.clone()),
        )?;
        self.commit_writes(writes).await
    }

    /// Sends (one attempt of) the cancel message of fire `of`, logged in that fire's actions log.
    async fn run_cancel_notice(
        &self,
        fire: FireRecord,
        mut doc: FireDoc,
        of: FireNumber,
        attempt: u32,
        slot: &mut StepSlot,
    ) -> Result<(), EngineError> {
        let original = self
            .inner
            .store
            .task_fires(fire.runbook_id, &fire.task_id)
            .await?
            .into_iter()
            .find(|candidate| candidate.kind == FireKind::Action(of))
            .ok_or_else(|| EngineError::NotFound {
                what: "fire",
                id: format!("{}/{}{of}", fire.runbook_id, fire.task_id),
            })?;
        let original_doc = FireDoc::parse(&original.state)?;
        let inputs = TaskInputs::of(&*self.inner.commits.load_fresh(fire.runbook_id).await?, &original)?;
        let Some(state) = original_doc.executor else {
            doc.outcome = Some(FireOutcome::Undelivered);
            return self
                .close_without_runbook(&fire, &doc, "the cancelled fire was never sent: no cancel message")
                .await;
        };
        let prepared = match self.prepare(&original, &inputs).await {
            Ok(prepared) => prepared,
            Err(NotPrepared::StoreUnavailable(error)) => return Err(error.into()),
            Err(NotPrepared::Fails(failure)) => {
                doc.outcome = Some(FireOutcome::Undelivered);
                return self.close_without_runbook(&fire, &doc, &failure.reason).await;
            }
        };
        let notice =
            self.inner.executor.notify_cancel(&prepared.action.prepared, &prepared.context, &state, attempt).await;
        slot.request_ended();
        let Some(notice) = notice else {
            doc.outcome = Some(FireOutcome::Undelivered);
            return self.close_without_runbook(&fire, &doc, "the action has no cancel webhook").await;
        };
        let (status, due_at) = match (notice.delivered, notice.retry_at) {
            (true, _) => {
                doc.outcome = Some(FireOutcome::Delivered);
                (FireStatus::Done, fire.due_at)
            }
            (false, Some(at)) => {
                doc.work = FireWork::CancelNotice { of, attempt: attempt + 1 };
                (FireStatus::Due, at.as_millisecond())
            }
            (false, None) => {
                doc.outcome = Some(FireOutcome::Undelivered);
                (FireStatus::Done, fire.due_at)
            }
        };
        let mut writes = self.fire_writes(
            &fire,
            &doc,
            status,
            due_at,
            &notice.entries,
            FireGuard::Lease(self.inner.settings.name.clone()),
        )?;
        // The cancel message belongs in the actions log of the fire it cancels.
        for write in &mut writes {
            if let ExtraWrite::Log(record) = write {
                record.fire = LogFire::Stored(original.id);
            }
        }
        self.tell_attempts(&notice.entries);
        self.commit_writes(writes).await
    }

    /// Ends the fires that `events` cancelled and that wait for a callback: their rows become `done` with the outcome
    /// `cancelled` at once (a waiting fire has no step due before its deadline that would notice), so a later callback
    /// is refused. A fire that is not waiting (due, or in flight under a lease) stops at its next step instead.
    pub(crate) async fn end_cancelled_fires(&self, id: RunbookId, events: &[Event]) -> Result<(), EngineError> {
        for event in events {
            let Event::IntegrationStatusChanged { task, fire, status: IntegrationStatus::Cancelled, .. } = event else {
                continue;
            };
            let fires = self.inner.store.task_fires(id, task).await?;
            let Some(record) = fires
                .into_iter()
                .find(|record| record.kind == FireKind::Action(*fire) && record.status == FireStatus::Waiting)
            else {
                continue;
            };
            match self.close_cancelled(&record, FireGuard::Status(FireStatus::Waiting)).await {
                // A callback is being applied to it right now; the runbook already ignores its outcome.
                Err(EngineError::Store(StoreError::FireGuardFailed { .. })) => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Closes a fire its task no longer runs, with the outcome `cancelled` and a note in its actions log.
    async fn close_cancelled(&self, fire: &FireRecord, guard: FireGuard) -> Result<(), EngineError> {
        let mut doc = FireDoc::parse(&fire.state)?;
        doc.outcome = Some(FireOutcome::Cancelled);
        let note = "cancelled: the task no longer runs this fire; later callbacks are refused";
        let entry = LogEntry::Note(cutover_integrations_http::NoteRecord { at: self.now(), message: note.to_owned() });
        let writes = self.fire_writes(fire, &doc, FireStatus::Done, fire.due_at, &[entry], guard)?;
        self.commit_writes(writes).await
    }

    /// Applies a third party's callback to a fire that waits for one. The token must be the fire's.
    ///
    /// A repeat of the report that ended the fire is accepted again (`Ok(false)`); any other report after the end is
    /// refused with [`EngineError::FireNotWaiting`].
    pub async fn complete_callback(
        &self,
        fire_id: FireId,
        token: &str,
        report: CallbackReport,
    ) -> Result<bool, EngineError> {
        // The token is an HMAC of the fire id, so it is checked before the fire is looked up: a caller without a valid
        // token learns nothing about which fires exist.
        if !self.inner.callbacks.verify(&fire_id.0.to_string(), token) {
            return Err(EngineError::CallbackRejected { fire: fire_id.0 });
        }
        let fire = self
            .inner
            .store
            .fire(fire_id)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: "fire", id: fire_id.to_string() })?;
        let doc = FireDoc::parse(&fire.state)?;
        if fire.status == FireStatus::Done {
            let repeat = matches!(
                (report.status, doc.outcome),
                (CallbackStatus::Success, Some(FireOutcome::Succeeded))
                    | (CallbackStatus::Failure, Some(FireOutcome::Failed))
            );
            if repeat {
                return Ok(false);
            }
            let state = doc.outcome.map_or("ended", FireOutcome::as_str).to_owned();
            return Err(EngineError::FireNotWaiting { fire: fire_id.0, state });
        }
        let Some(state) = doc.executor.clone().filter(|_| fire.status == FireStatus::Waiting) else {
            return Err(EngineError::FireNotWaiting { fire: fire_id.0, state: "not sent yet".to_owned() });
        };
        let loaded = self.inner.commits.load_fresh(fire.runbook_id).await?;
        let inputs = TaskInputs::of(&loaded, &fire)?;
        if !inputs.current {
            // Cancelled (or skipped, or refired) while it waited: it ends here, and so does every later callback.
            let state = match self.close_cancelled(&fire, FireGuard::Status(FireStatus::Waiting)).await {
                Ok(()) => "cancelled",
                Err(EngineError::Store(StoreError::FireGuardFailed { .. })) => "being processed",
                Err(error) => return Err(error),
            };
            return Err(EngineError::FireNotWaiting { fire: fire_id.0, state: state.to_owned() });
        }
        self.check_callback_fields(&fire, &loaded, &report).await?;
        drop(loaded);
        let prepared = self.prepare(&fire, &inputs).await.map_err(|not_prepared| match not_prepared {
            NotPrepared::Fails(failure) => EngineError::FireNotWaiting { fire: fire_id.0, state: failure.reason },
            NotPrepared::StoreUnavailable(error) => error.into(),
        })?;
        let step =
            self.inner.executor.complete_callback(&prepared.action.prepared, &prepared.context, state, report)?;
        match self.record_step(&fire, doc, step, FireGuard::Status(FireStatus::Waiting), None).await {
            Ok(()) => Ok(true),
            Err(EngineError::Store(StoreError::FireGuardFailed { .. })) => {
                Err(EngineError::FireNotWaiting { fire: fire_id.0, state: "being processed".to_owned() })
            }
            Err(error) => Err(error),
        }
    }

    /// Refuses a callback that sets custom fields its task cannot hold: undeclared fields, fields restricted to other
    /// actions, values that are not options of their field. Nothing is applied when one is wrong.
    async fn check_callback_fields(
        &self,
        fire: &FireRecord,
        loaded: &Loaded,
        report: &CallbackReport,
    ) -> Result<(), EngineError> {
        if report.custom_fields.is_empty() {
            return Ok(());
        }
        let action = loaded
            .state
            .task(&fire.task_id)
            .and_then(|task| task.plan.action.as_ref().map(|action| action.reference.action.clone()));
        let fields: Vec<_> = self
            .custom_fields()
            .await?
            .into_iter()
            .filter(|field| {
                field.restrict_to.is_empty() || action.as_ref().is_some_and(|name| field.restrict_to.contains(name))
            })
            .collect();
        let problems: Vec<_> = report
            .custom_fields
            .iter()
            .flat_map(|(name, value)| crate::editing::field_value_problems(&fields, name, value))
            .collect();
        if problems.is_empty() { Ok(()) } else { Err(EngineError::InvalidInput { problems }) }
    }

    /// Loads the action of a fire and builds what the executor needs: the prepared action and the fire context.
    ///
    /// A transient store error ([`StoreError::is_transient`]) is tried again after each of [`STORE_RETRY_PAUSES`];
    /// if the store is still unavailable the fire is left as it is ([`NotPrepared::StoreUnavailable`]). Any other
    /// store error fails the fire.
    async fn prepare(&self, fire: &FireRecord, inputs: &TaskInputs) -> Result<Prepared, NotPrepared> {
        let mut pauses = STORE_RETRY_PAUSES.iter();
        loop {
            match self.prepare_once(fire, inputs).await {
                Err(NotPrepared::StoreUnavailable(error)) if error.is_transient() => match pauses.next() {
                    Some(pause) => {
                        let fire = fire.id.0;
                        tracing::warn!(%error, fire, ?pause, "the store failed while a fire was prepared; trying again");
                        tokio::time::sleep(*pause).await;
                    }
                    None => return Err(NotPrepared::StoreUnavailable(error)),
                },
                Err(NotPrepared::StoreUnavailable(error)) => {
                    return Err(NotPrepared::Fails(PrepareFailure::request(error.to_string())));
                }
                other => return other,
            }
        }
    }

    async fn prepare_once(&self, fire: &FireRecord, inputs: &TaskInputs) -> Result<Prepared, NotPrepared> {
        let reference = inputs
            .action
            .clone()
            .ok_or_else(|| PrepareFailure::request(format!("task `{}` has no action", fire.task_id)))?;
        let action = self.inner.catalog.action(&reference).await.map_err(|lookup| match lookup {
            ActionLookup::Store(error) => NotPrepared::StoreUnavailable(error),
            ActionLookup::Missing => PrepareFailure::request(format!("action `{reference}` no longer exists")).into(),
            ActionLookup::Invalid(reason) => PrepareFailure::render(reason).into(),
        })?;
        let record = &action.record;
        if record.archived {
            return Err(PrepareFailure::request(format!("integration `{}` is archived", reference.integration)).into());
        }
        let parameters = self.inner.catalog.parameters().await.map_err(NotPrepared::StoreUnavailable)?;
        let values = with_parameters(inputs.values.clone(), &parameters);
        let mut context = FireContext::new(
            fire.id.0.to_string(),
            fire.runbook_id.0.to_string(),
            fire.task_id.clone(),
            values.clone(),
        );
        for parameter in parameters.iter().filter(|parameter| parameter.secret) {
            context = context.with_secret(parameter.value.expose());
        }
        if action.prepared.mode() == cutover_integrations_model::ExecutionMode::Callback {
            context = context.with_callback(self.inner.callbacks.mint(&fire.id.0.to_string()));
        }
        let parameter_values = values.get("SystemParameter").cloned().unwrap_or(Value::Null);
        let auth = resolve_auth(&record.action.auth, &parameter_values, &self.inner.executor.config().outbound)
            .map_err(|error| match error {
                AuthResolutionError::Auth(error) => PrepareFailure { kind: ErrorKind::Auth, reason: error.to_string() },
                AuthResolutionError::Refused { reason } => PrepareFailure { kind: ErrorKind::SsrfBlocked, reason },
            })
            .map_err(NotPrepared::Fails)?;
        let provider = self.inner.authenticator.provider(auth);
        let subject = FireSubject {
            action: record.id.0.to_string(),
            runbook: fire.runbook_id.0.to_string(),
            task: fire.task_id.clone(),
            user: inputs.assignee.clone(),
        };
        context = context.with_auth(provider, subject);
        Ok(Prepared { action, context })
    }
}

/// How a fire reached this engine's dispatcher.
enum Origin {
    /// Created by this engine's own commit and handed over in memory, with its task's inputs as that commit left them.
    Local(TaskInputs),
    /// Claimed from the store: due again, or left by another engine.
    Claimed,
}

/// What the executor needs for a step.
struct Prepared {
    action: Arc<CachedAction>,
    context: FireContext,
}

/// The pauses before each new try of a fire's preparation after a transient store error: at most three more tries,
/// 1.3 s in all, well within a lease.
const STORE_RETRY_PAUSES: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(50),
    std::time::Duration::from_millis(250),
    std::time::Duration::from_millis(1_000),
];

/// Why a fire was not prepared.
enum NotPrepared {
    /// It cannot be: the fire fails.
    Fails(PrepareFailure),
    /// The store failed (inside `prepare_once`, any store error; out of `prepare`, a transient one that outlasted
    /// the retries): the fire is left as it is.
    StoreUnavailable(StoreError),
}

impl From<PrepareFailure> for NotPrepared {
    fn from(failure: PrepareFailure) -> Self {
        Self::Fails(failure)
    }
}

/// Why a fire could not be prepared; it fails the fire.
struct PrepareFailure {
    kind: ErrorKind,
    reason: String,
}

impl PrepareFailure {
    fn request(reason: String) -> Self {
        Self { kind: ErrorKind::InvalidRequest, reason }
    }

    fn render(reason: String) -> Self {
        Self { kind: ErrorKind::Render, reason }
    }

    fn into_result(self) -> cutover_integrations_http::FireResult {
        cutover_integrations_http::FireResult::failure(self.kind, self.reason)
    }
}

/// The reason shown on a task for a failed fire; transport failures read "Connection failed: …".
fn failure_reason(failure: Option<&AttemptError>) -> FailureReason {
    let Some(failure) = failure else {
        return FailureReason::new(FailureKind::Response, "the fire failed");
    };
    let kind = match failure.kind {
        ErrorKind::ConnectionFailed | ErrorKind::Tls | ErrorKind::SsrfBlocked | ErrorKind::Redirect => {
            FailureKind::Connection
        }
        ErrorKind::Timeout => FailureKind::Timeout,
        ErrorKind::InvalidRequest | ErrorKind::Render | ErrorKind::Auth => FailureKind::Request,
        _ => FailureKind::Response,
    };
    FailureReason::new(kind, failure.reason.clone())
}
