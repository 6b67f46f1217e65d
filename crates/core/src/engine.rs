//! The [`Engine`]: what embedders, the server and the CLI call. Definitions, users, system parameters, runbooks and
//! their commands; every change of a runbook is applied to the state machine and persisted with its effects in one
//! transaction.

use crate::api_token::{MintedToken, hash_token, mint_token};
use crate::catalog::Catalog;
use crate::config::{EngineBuilder, EngineSettings};
use crate::dispatch::FireDoc;
use crate::error::EngineError;
use crate::events::EngineEvent;
use cutover_integrations_auth::{Authenticator, AuthenticatorSettings, Clock};
use cutover_integrations_http::{CallbackAuthority, ExecutorConfig, HttpExecutor, Timer};
use cutover_integrations_model::{
    Action, CustomField, Definition, Integration, Runbook, SourceFile, SystemParameter, Validator,
};
use cutover_integrations_runbook::{Actor, Command, Effect, Event, RunbookPlan, RunbookState};
use cutover_integrations_store::{
    Commit, FireRecord, FireStatus, IntegrationId, IntegrationRecord, NewFire, NewTimer, NewUser, RunbookId,
    RunbookSummary, RunbookWrite, Store, User,
};
use cutover_integrations_store::{FireId, RunbookRecord};
use cutover_integrations_template::Checker;
use jiff::Timestamp;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Notify, broadcast, mpsc};

/// The engine. Cheap to clone: clones share one engine.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("name", &self.inner.settings.name).finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) executor: HttpExecutor,
    pub(crate) authenticator: Authenticator,
    pub(crate) callbacks: CallbackAuthority,
    pub(crate) timer: Arc<dyn Timer>,
    pub(crate) settings: EngineSettings,
    pub(crate) events: broadcast::Sender<EngineEvent>,
    /// One lock per runbook: commands on a runbook are applied one at a time within this engine, against a cached
    /// state; other engines are caught by the version check.
    runbooks: std::sync::Mutex<HashMap<RunbookId, Arc<RunbookSlot>>>,
    /// Compiled actions and system parameters, so that fire steps do not read them from the store.
    pub(crate) catalog: Catalog,
    /// Whether this engine's dispatcher runs: only then are new fires leased to it and handed over in memory.
    pub(crate) running: AtomicBool,
    /// Fires this engine is running or about to run, so that a fire handed over in memory and claimed again after its
    /// lease expired does not run twice here.
    pub(crate) in_flight: std::sync::Mutex<HashSet<FireId>>,
    /// Wakes the dispatcher when work is due.
    pub(crate) wake: Notify,
    /// Fires this engine leased when it created them, handed straight to the dispatcher.
    pub(crate) local_fires: mpsc::UnboundedSender<FireRecord>,
    pub(crate) local_fires_receiver: std::sync::Mutex<Option<mpsc::UnboundedReceiver<FireRecord>>>,
}

/// A runbook as this engine last read or wrote it. Shared (`Arc`) with fire steps reading it; a command changes it in
/// place when nobody else holds it, and copies it otherwise.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) state: RunbookState,
    pub(crate) version: i64,
    pub(crate) definition: Arc<Runbook>,
}

/// The cached runbook, locked while a command on it is applied; empty until read, and after a failed commit.
pub(crate) type RunbookSlot = tokio::sync::Mutex<Option<Arc<Loaded>>>;

/// What a commit did besides writing, for after it landed.
struct Planned {
    events: Vec<Event>,
    /// The fires created and leased to this engine, to hand to its dispatcher.
    local_fires: Vec<NewFire>,
}

/// A runbook with its current state.
#[derive(Debug, Clone)]
pub struct RunbookView {
    /// Its id.
    pub id: RunbookId,
    /// The definition it was created from.
    pub definition: Runbook,
    /// The state machine's state: stage, mode, every task.
    pub state: RunbookState,
}

/// A user created with its API token, which is shown this once.
#[derive(Debug)]
pub struct CreatedUser {
    /// The user.
    pub user: User,
    /// The API token (48 hex characters); only its hash is stored.
    pub token: secrecy::SecretString,
}

/// What applying definition files changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedDefinitions {
    /// Per integration applied.
    pub integrations: Vec<cutover_integrations_store::AppliedDefinition>,
    /// Runbooks created, by id.
    pub runbooks: Vec<RunbookId>,
}

/// An adapter so the auth crate reads time from the engine's timer.
#[derive(Debug)]
struct TimerClock(Arc<dyn Timer>);

impl Clock for TimerClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}

impl Engine {
    /// Starts building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    pub(crate) fn assemble(
        store: Arc<dyn Store>,
        callback_key: [u8; 32],
        executor: ExecutorConfig,
        timer: Arc<dyn Timer>,
        settings: EngineSettings,
    ) -> Result<Self, EngineError> {
        let executor = HttpExecutor::with_timer(executor, timer.clone())?;
        let redirect = settings.public_url.join("api/v1/oauth/callback").map_err(|error| EngineError::Config {
            message: format!("public URL `{}`: {error}", settings.public_url),
        })?;
        let authenticator = Authenticator::new(
            store.clone(),
            executor.client(),
            Arc::new(TimerClock(timer.clone())),
            AuthenticatorSettings::new(redirect),
        );
        let callbacks = CallbackAuthority::new(callback_key, settings.public_url.as_str());
        let (events, _) = broadcast::channel(4096);
        let settings_poll_interval = settings.poll_interval;
        let (local_fires, receiver) = mpsc::unbounded_channel();
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                executor,
                authenticator,
                callbacks,
                timer,
                settings,
                events,
                runbooks: std::sync::Mutex::new(HashMap::new()),
                catalog: Catalog::new(settings_poll_interval),
                running: AtomicBool::new(false),
                in_flight: std::sync::Mutex::new(HashSet::new()),
                wake: Notify::new(),
                local_fires,
                local_fires_receiver: std::sync::Mutex::new(Some(receiver)),
            }),
        })
    }

    /// The engine's settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// The store, for reads the engine does not wrap.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The OAuth authenticator (authorization code flows, credentials).
    pub fn authenticator(&self) -> &Authenticator {
        &self.inner.authenticator
    }

    /// Listens to runbook and task changes.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.timer.now()
    }

    // Definitions ----------------------------------------------------------------------------------------------------

    /// Validates definition files together (templates checked, runbook references resolved against these files and
    /// the integrations already stored) and applies them: integrations are created or updated, runbooks created.
    /// Nothing is applied unless every file validates.
    pub async fn apply_definitions(&self, files: &[(&str, &str)]) -> Result<AppliedDefinitions, EngineError> {
        // The validator borrows a checker without `Sync`: it is dropped before the first await, so that this future
        // is `Send` (servers spawn it).
        let parsed = {
            let checker = Checker;
            let sources: Vec<SourceFile<'_>> = files.iter().map(|(name, text)| SourceFile::new(name, text)).collect();
            Validator::with_checker(&checker)
                .validate(&sources)
                .map_err(|diagnostics| EngineError::Invalid { diagnostics })?
        };
        let now = self.now().as_millisecond();
        let mut applied = AppliedDefinitions { integrations: Vec::new(), runbooks: Vec::new() };
        for definition in parsed.definitions() {
            if let Definition::Integration(integration) = definition.definition() {
                self.check_immutable(integration).await?;
                applied.integrations.push(self.inner.store.apply_integration(integration, now).await?);
            }
        }
        for definition in parsed.definitions() {
            if let Definition::Runbook(runbook) = definition.definition() {
                applied.runbooks.push(self.create_runbook(runbook.clone()).await?);
            }
        }
        Ok(applied)
    }

    async fn check_immutable(&self, integration: &Integration) -> Result<(), EngineError> {
        for action in &integration.actions {
            let reference = cutover_integrations_model::ActionRef {
                integration: integration.name.clone(),
                action: action.name.clone(),
            };
            if let Some(existing) = self.inner.store.find_action(&reference).await? {
                immutable_fields(&existing.action, action)?;
            }
        }
        Ok(())
    }

    /// Every integration with its actions (secrets included: callers showing them must redact).
    pub async fn integrations(&self) -> Result<Vec<IntegrationRecord>, EngineError> {
        Ok(self.inner.store.integrations().await?)
    }

    /// Archives (or restores) an integration.
    pub async fn archive_integration(&self, id: IntegrationId, archived: bool) -> Result<(), EngineError> {
        Ok(self.inner.store.set_integration_archived(id, archived, self.now().as_millisecond()).await?)
    }

    /// Replaces an action; its trigger and visibility cannot change.
    pub async fn update_action(
        &self,
        id: cutover_integrations_store::ActionId,
        action: &Action,
    ) -> Result<(), EngineError> {
        let existing = self
            .inner
            .store
            .action(id)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: "action", id: id.to_string() })?;
        immutable_fields(&existing.action, action)?;
        Ok(self.inner.store.update_action(id, action, self.now().as_millisecond()).await?)
    }

    /// Every custom field.
    pub async fn custom_fields(&self) -> Result<Vec<CustomField>, EngineError> {
        Ok(self.inner.store.custom_fields().await?)
    }

    /// Creates or replaces a custom field.
    pub async fn put_custom_field(&self, field: &CustomField) -> Result<(), EngineError> {
        Ok(self.inner.store.put_custom_field(field, self.now().as_millisecond()).await?)
    }

    /// Every system parameter, values included (callers showing them must hide secret ones).
    pub async fn system_parameters(&self) -> Result<Vec<SystemParameter>, EngineError> {
        Ok(self.inner.store.system_parameters().await?)
    }

    /// Creates or replaces a system parameter; its value is encrypted at rest.
    pub async fn put_system_parameter(&self, parameter: &SystemParameter) -> Result<(), EngineError> {
        Ok(self.inner.store.put_system_parameter(parameter, self.now().as_millisecond()).await?)
    }

    // Users ----------------------------------------------------------------------------------------------------------

    /// Creates a user with a new API token, returned once.
    pub async fn create_user(&self, user: &NewUser) -> Result<CreatedUser, EngineError> {
        let MintedToken { token, hash } = mint_token();
        let user = self.inner.store.create_user(user, &hash, self.now().as_millisecond()).await?;
        Ok(CreatedUser { user, token })
    }

    /// Creates an admin user holding `token` unless a user with that token exists; for a server's first start.
    pub async fn ensure_admin_token(&self, email: &str, token: &str) -> Result<User, EngineError> {
        let hash = hash_token(token);
        if let Some(user) = self.inner.store.user_by_token_hash(&hash).await? {
            return Ok(user);
        }
        let admin = NewUser {
            name: "Administrator".to_owned(),
            email: email.to_owned(),
            roles: vec![cutover_integrations_model::Role::Admin],
        };
        Ok(self.inner.store.create_user(&admin, &hash, self.now().as_millisecond()).await?)
    }

    /// The user holding an API token.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>, EngineError> {
        Ok(self.inner.store.user_by_token_hash(&hash_token(token)).await?)
    }

    /// Every user.
    pub async fn users(&self) -> Result<Vec<User>, EngineError> {
        Ok(self.inner.store.users().await?)
    }

    // Runbooks -------------------------------------------------------------------------------------------------------

    /// Creates a runbook in `planning` from its definition; its actions and custom fields come from the store.
    pub async fn create_runbook(&self, runbook: Runbook) -> Result<RunbookId, EngineError> {
        let integrations: Vec<Integration> =
            self.inner.store.integrations().await?.into_iter().map(|record| record.integration).collect();
        let fields = self.inner.store.custom_fields().await?;
        let plan = RunbookPlan::build(&runbook, &integrations, &fields)?;
        let state = RunbookState::new(plan);
        self.insert_runbook(runbook, state).await
    }

    async fn insert_runbook(&self, runbook: Runbook, state: RunbookState) -> Result<RunbookId, EngineError> {
        let definition = serde_json::to_string(&runbook).map_err(EngineError::corrupt("runbook definition"))?;
        let state_json = serde_json::to_string(&state).map_err(EngineError::corrupt("runbook state"))?;
        let id = self
            .inner
            .store
            .create_runbook(&runbook.name, &definition, &state_json, self.now().as_millisecond())
            .await?;
        *self.slot(id).lock().await = Some(Arc::new(Loaded { state, version: 1, definition: Arc::new(runbook) }));
        Ok(id)
    }

    /// Every runbook.
    pub async fn runbooks(&self) -> Result<Vec<RunbookSummary>, EngineError> {
        Ok(self.inner.store.runbooks().await?)
    }

    /// A runbook with its current state (as stored: changes made through other engines included).
    pub async fn runbook(&self, id: RunbookId) -> Result<RunbookView, EngineError> {
        let loaded = self.load_fresh(id).await?;
        Ok(RunbookView { id, definition: (*loaded.definition).clone(), state: loaded.state.clone() })
    }

    /// A copy of a runbook in `planning`, without transient custom field values (and never task-user tokens, which
    /// belong to the original's tasks).
    pub async fn duplicate_runbook(&self, id: RunbookId) -> Result<RunbookId, EngineError> {
        let loaded = self.load_fresh(id).await?;
        let state = loaded.state.duplicate();
        let mut definition = (*loaded.definition).clone();
        definition.name = format!("{} (copy)", definition.name);
        self.insert_runbook(definition, state).await
    }

    /// Applies a command from `actor` to a runbook: the state machine decides, and the new state and its effects (due
    /// fires, wake-ups) are stored in one transaction. Returns the events the command caused.
    ///
    /// A refused command changes nothing. A command that races with another engine writing the same runbook is
    /// applied to the state that engine left (never lost, never applied twice).
    ///
    /// ```
    /// use cutover_integrations_core::model::{RunMode, TaskStage};
    /// use cutover_integrations_core::runbook::{Actor, Command, Event};
    /// use cutover_integrations_core::{Engine, EngineError, generate_secret_key};
    /// use secrecy::ExposeSecret;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// # let directory = tempfile::tempdir()?;
    /// # let engine = Engine::builder()
    /// #     .database_url(format!("sqlite://{}", directory.path().join("cutover.db").display()))
    /// #     .secret_key_base64(generate_secret_key().expose_secret())
    /// #     .build()
    /// #     .await?;
    /// let release = "kind: runbook\nname: Release\ntasks:\n  - {id: deploy, name: Deploy}\n";
    /// let runbook = engine.apply_definitions(&[("release.yaml", release)]).await?.runbooks[0];
    /// let start = Command::StartTask { task: "deploy".into(), force: false };
    ///
    /// // Refused while the runbook is still being planned: nothing changes.
    /// let refused = engine.command(runbook, start.clone(), &Actor::engine()).await;
    /// assert!(matches!(refused, Err(EngineError::Refused(_))));
    ///
    /// engine.command(runbook, Command::StartRunbook { mode: RunMode::Live }, &Actor::engine()).await?;
    /// let events = engine.command(runbook, start, &Actor::engine()).await?;
    /// assert!(events.iter().any(|event| matches!(event, Event::TaskStageChanged { to: TaskStage::InProgress, .. })));
    /// let view = engine.runbook(runbook).await?;
    /// assert_eq!(view.state.task("deploy").map(|task| task.state.stage()), Some(TaskStage::InProgress));
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().expect("runtime").block_on(run()).expect("the example runs");
    /// ```
    pub async fn command(&self, id: RunbookId, command: Command, actor: &Actor) -> Result<Vec<Event>, EngineError> {
        self.apply(id, |state, now| state.apply(command.clone(), actor, now), Vec::new).await.map(|(events, _)| events)
    }

    /// Applies `change` to a runbook's state and commits the result with the fire updates and log records `extra`
    /// builds. The heart of the outbox: state, due fires, wake-ups and the fire's own record change together or not
    /// at all.
    ///
    /// The change is applied to this engine's cached state and committed against its version. If another engine
    /// wrote the runbook meanwhile, the store reads it again inside the committing transaction (holding its lock) and
    /// `change` and `extra` run once more against that state, so a commit never fails on a race and never retries in
    /// a loop; only the writer that lost the race pays for the read.
    pub(crate) async fn apply<F, X>(
        &self,
        id: RunbookId,
        mut change: F,
        mut extra: X,
    ) -> Result<(Vec<Event>, Vec<FireId>), EngineError>
    where
        F: FnMut(&mut RunbookState, Timestamp) -> Result<Vec<Effect>, cutover_integrations_runbook::RunbookError>
            + Send,
        X: FnMut() -> Vec<ExtraWrite> + Send,
    {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        let mut loaded = match guard.take() {
            Some(loaded) => loaded,
            None => Arc::new(self.read(id, None).await?),
        };
        let now = self.now();
        // The state machine validates before it mutates: a refused command leaves the cached state as it was.
        let effects = match change(&mut Arc::make_mut(&mut loaded).state, now) {
            Ok(effects) => effects,
            Err(refusal) => {
                *guard = Some(loaded);
                return Err(refusal.into());
            }
        };
        let (commit, planned) = match self.plan_commit(id, &loaded.state, loaded.version, effects, extra(), now) {
            Ok(plan) => plan,
            Err(error) => return Err(error),
        };
        let mut rebuilt: Option<(Loaded, Planned)> = None;
        let mut declined: Option<(Option<Loaded>, EngineError)> = None;
        let definition = loaded.definition.clone();
        let mut rebuild = |record: &RunbookRecord| -> Option<Commit> {
            let mut fresh = match parse_record(record, Some(definition.clone())) {
                Ok(fresh) => fresh,
                Err(error) => {
                    declined = Some((None, error));
                    return None;
                }
            };
            let unchanged = fresh.clone();
            let effects = match change(&mut fresh.state, now) {
                Ok(effects) => effects,
                Err(refusal) => {
                    declined = Some((Some(unchanged), refusal.into()));
                    return None;
                }
            };
            match self.plan_commit(id, &fresh.state, record.version, effects, extra(), now) {
                Ok((commit, planned)) => {
                    rebuilt = Some((fresh, planned));
                    Some(commit)
                }
                Err(error) => {
                    declined = Some((Some(unchanged), error));
                    None
                }
            }
        };
        let result = self.inner.store.commit_runbook(commit, &mut rebuild).await;
        match result {
            Ok(Some(committed)) => {
                let (mut loaded, planned) = match rebuilt {
                    Some((fresh, planned)) => (Arc::new(fresh), planned),
                    None => (loaded, planned),
                };
                if let Some(version) = committed.runbook_version {
                    Arc::make_mut(&mut loaded).version = version;
                }
                *guard = Some(loaded);
                // Events go out while the runbook is still locked, so that whoever reads the runbook after this
                // command has returned has already been sent every event the command caused, in order.
                self.after_commit(id, &planned, &committed.fire_ids);
                drop(guard);
                Ok((planned.events, committed.fire_ids))
            }
            Ok(None) => {
                let (fresh, error) = declined.unwrap_or_else(|| {
                    (None, EngineError::Corrupt { what: "commit", reason: "declined without a reason".to_owned() })
                });
                *guard = fresh.map(Arc::new);
                Err(error)
            }
            Err(error) => {
                // The cached state holds the change that did not land: read it again next time.
                *guard = None;
                Err(error.into())
            }
        }
    }

    /// The commit that stores `state` (changed from `version`) with its effects and `extra` writes.
    fn plan_commit(
        &self,
        id: RunbookId,
        state: &RunbookState,
        version: i64,
        effects: Vec<Effect>,
        extra: Vec<ExtraWrite>,
        now: Timestamp,
    ) -> Result<(Commit, Planned), EngineError> {
        let mut commit = Commit { now: now.as_millisecond(), ..Default::default() };
        let mut events = Vec::new();
        // New fires are leased to this engine and handed to its dispatcher in memory, when it runs one; otherwise
        // they are left for any engine's dispatcher to claim.
        let lease = self.inner.running.load(Ordering::Acquire).then(|| {
            (self.inner.settings.name.clone(), now.as_millisecond() + self.inner.settings.lease.as_millis() as i64)
        });
        for effect in effects {
            match effect {
                Effect::Fire { task, fire, delivery } => commit.new_fires.push(NewFire {
                    idempotency_key: idempotency_key(id, &task, fire.0),
                    task_id: task,
                    runbook_id: None,
                    fire_number: i64::from(fire.0),
                    status: FireStatus::Due,
                    state: FireDoc::new(delivery).to_json(),
                    due_at: now.as_millisecond(),
                    lease: lease.clone(),
                    callback_token_hash: None,
                }),
                Effect::CancelFire { task, fire, notify } => {
                    if notify {
                        commit.new_fires.push(NewFire {
                            idempotency_key: format!("{}-cancel", idempotency_key(id, &task, fire.0)),
                            task_id: task,
                            runbook_id: None,
                            fire_number: -i64::from(fire.0),
                            status: FireStatus::Due,
                            state: FireDoc::cancel_notice(fire.0).to_json(),
                            due_at: now.as_millisecond(),
                            lease: lease.clone(),
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
        for write in extra {
            match write {
                ExtraWrite::Fire(update) => commit.fire_updates.push(update),
                ExtraWrite::Log(record) => commit.log_records.push(record),
                ExtraWrite::DeleteTimer(timer) => commit.deleted_timers.push(timer),
            }
        }
        let state_json = serde_json::to_string(state).map_err(EngineError::corrupt("runbook state"))?;
        commit.runbook = Some(RunbookWrite { id, expected_version: version, state: state_json });
        let local_fires = if lease.is_some() { commit.new_fires.clone() } else { Vec::new() };
        Ok((commit, Planned { events, local_fires }))
    }

    fn after_commit(&self, id: RunbookId, planned: &Planned, fire_ids: &[FireId]) {
        for event in &planned.events {
            let _ = self.inner.events.send(EngineEvent { runbook: id, event: event.clone() });
        }
        for (fire, id_of_fire) in planned.local_fires.iter().zip(fire_ids) {
            let record = FireRecord {
                id: *id_of_fire,
                runbook_id: id,
                task_id: fire.task_id.clone(),
                fire_number: fire.fire_number,
                idempotency_key: fire.idempotency_key.clone(),
                status: fire.status,
                state: fire.state.clone(),
                due_at: fire.due_at,
                lease_owner: fire.lease.as_ref().map(|(owner, _)| owner.clone()),
                lease_until: fire.lease.as_ref().map(|(_, until)| *until),
                callback_token_hash: None,
            };
            let _ = self.inner.local_fires.send(record);
        }
        if fire_ids.len() > planned.local_fires.len() {
            // Fires for any engine to claim: this engine's dispatcher (if any) looks now rather than at its next tick.
            self.inner.wake.notify_one();
        }
    }

    pub(crate) fn slot(&self, id: RunbookId) -> Arc<RunbookSlot> {
        let mut runbooks = self.inner.runbooks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        runbooks.entry(id).or_default().clone()
    }

    /// The runbook as this engine last read or wrote it (read from the store the first time). Fires this engine
    /// created run against it: it holds at least the commit that created them.
    pub(crate) async fn load(&self, id: RunbookId) -> Result<Arc<Loaded>, EngineError> {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        if let Some(loaded) = guard.as_ref() {
            return Ok(loaded.clone());
        }
        let loaded = Arc::new(self.read(id, None).await?);
        *guard = Some(loaded.clone());
        Ok(loaded)
    }

    /// The runbook as stored now: the cached state if its version is still the stored one (one small query), else
    /// read again. For work that other engines may have changed the runbook under: claimed fires, callbacks, reads.
    pub(crate) async fn load_fresh(&self, id: RunbookId) -> Result<Arc<Loaded>, EngineError> {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        let loaded = match guard.as_ref() {
            Some(cached) => match self.inner.store.runbook_if_changed(id, cached.version).await? {
                None => return Ok(cached.clone()),
                Some(record) => Arc::new(parse_record(&record, Some(cached.definition.clone()))?),
            },
            None => Arc::new(self.read(id, None).await?),
        };
        *guard = Some(loaded.clone());
        Ok(loaded)
    }

    async fn read(&self, id: RunbookId, definition: Option<Arc<Runbook>>) -> Result<Loaded, EngineError> {
        let record = self
            .inner
            .store
            .runbook(id)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: "runbook", id: id.to_string() })?;
        parse_record(&record, definition)
    }
}

/// A stored runbook as the engine holds it. The definition never changes after creation, so a cached one is reused.
fn parse_record(record: &RunbookRecord, definition: Option<Arc<Runbook>>) -> Result<Loaded, EngineError> {
    let state: RunbookState = serde_json::from_str(&record.state).map_err(EngineError::corrupt("runbook state"))?;
    let definition = match definition {
        Some(definition) => definition,
        None => Arc::new(serde_json::from_str(&record.definition).map_err(EngineError::corrupt("runbook definition"))?),
    };
    Ok(Loaded { state, version: record.version, definition })
}

/// Writes that ride along with a runbook state change in one commit.
#[derive(Clone)]
pub(crate) enum ExtraWrite {
    Fire(cutover_integrations_store::FireUpdate),
    Log(cutover_integrations_store::LogRecord),
    DeleteTimer(cutover_integrations_store::TimerId),
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

fn immutable_fields(existing: &Action, new: &Action) -> Result<(), EngineError> {
    if existing.trigger != new.trigger {
        return Err(EngineError::Immutable { action: new.name.clone(), field: "trigger" });
    }
    if existing.visibility != new.visibility {
        return Err(EngineError::Immutable { action: new.name.clone(), field: "visibility" });
    }
    Ok(())
}
