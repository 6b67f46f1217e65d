//! The [`Engine`]: what embedders, the server and the CLI call. Definitions, users, system parameters, runbooks and
//! their commands; every change of a runbook is applied to the state machine and persisted with its effects in one
//! transaction.

use crate::api_token::{MintedToken, hash_token, mint_token};
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
    RunbookSummary, RunbookWrite, Store, StoreError, User,
};
use cutover_integrations_template::Checker;
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{Notify, broadcast, mpsc};

/// How many times a command is re-applied when other engines changed the runbook meanwhile.
const MAX_CONFLICT_RETRIES: usize = 16;

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
    runbooks: std::sync::Mutex<HashMap<RunbookId, Arc<tokio::sync::Mutex<Option<Loaded>>>>>,
    /// Wakes the dispatcher when work is due.
    pub(crate) wake: Notify,
    /// Fires this engine leased when it created them, handed straight to the dispatcher.
    pub(crate) local_fires: mpsc::UnboundedSender<FireRecord>,
    pub(crate) local_fires_receiver: std::sync::Mutex<Option<mpsc::UnboundedReceiver<FireRecord>>>,
}

/// A runbook as this engine last read or wrote it.
#[derive(Clone)]
pub(crate) struct Loaded {
    pub(crate) state: RunbookState,
    pub(crate) version: i64,
    pub(crate) definition: Runbook,
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
        *self.slot(id).lock().await = Some(Loaded { state, version: 1, definition: runbook });
        Ok(id)
    }

    /// Every runbook.
    pub async fn runbooks(&self) -> Result<Vec<RunbookSummary>, EngineError> {
        Ok(self.inner.store.runbooks().await?)
    }

    /// A runbook with its state, read from the store.
    pub async fn runbook(&self, id: RunbookId) -> Result<RunbookView, EngineError> {
        let loaded = self.load(id).await?;
        Ok(RunbookView { id, definition: loaded.definition, state: loaded.state })
    }

    /// A copy of a runbook in `planning`, without transient custom field values (and never task-user tokens, which
    /// belong to the original's tasks).
    pub async fn duplicate_runbook(&self, id: RunbookId) -> Result<RunbookId, EngineError> {
        let loaded = self.load(id).await?;
        let state = loaded.state.duplicate();
        let mut definition = loaded.definition.clone();
        definition.name = format!("{} (copy)", definition.name);
        self.insert_runbook(definition, state).await
    }

    /// Applies a command from `actor` to a runbook: the state machine decides, and the new state and its effects (due
    /// fires, wake-ups) are stored in one transaction. Returns the events the command caused.
    pub async fn command(&self, id: RunbookId, command: Command, actor: &Actor) -> Result<Vec<Event>, EngineError> {
        self.apply(id, |state, now| state.apply(command.clone(), actor, now), Vec::new).await.map(|(events, _)| events)
    }

    /// Applies `change` to a runbook's state and commits the result with the fire updates and log records `extra`
    /// builds, retrying on version conflicts. The heart of the outbox: state, due fires, wake-ups and the fire's own
    /// record change together or not at all.
    pub(crate) async fn apply<F, X>(
        &self,
        id: RunbookId,
        mut change: F,
        mut extra: X,
    ) -> Result<(Vec<Event>, Vec<cutover_integrations_store::FireId>), EngineError>
    where
        F: FnMut(&mut RunbookState, Timestamp) -> Result<Vec<Effect>, cutover_integrations_runbook::RunbookError>,
        X: FnMut() -> Vec<ExtraWrite>,
    {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        for _ in 0..MAX_CONFLICT_RETRIES {
            let loaded = match guard.as_ref() {
                Some(loaded) => loaded.clone(),
                None => self.read(id).await?,
            };
            let now = self.now();
            let mut state = loaded.state.clone();
            let effects = change(&mut state, now)?;
            let mut commit = Commit { now: now.as_millisecond(), ..Default::default() };
            let mut events = Vec::new();
            let lease_until = now.as_millisecond() + self.inner.settings.lease.as_millis() as i64;
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
                        lease: Some((self.inner.settings.name.clone(), lease_until)),
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
                                lease: Some((self.inner.settings.name.clone(), lease_until)),
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
            for write in extra() {
                match write {
                    ExtraWrite::Fire(update) => commit.fire_updates.push(update),
                    ExtraWrite::Log(record) => commit.log_records.push(record),
                    ExtraWrite::DeleteTimer(timer) => commit.deleted_timers.push(timer),
                }
            }
            let state_json = serde_json::to_string(&state).map_err(EngineError::corrupt("runbook state"))?;
            commit.runbook = Some(RunbookWrite { id, expected_version: loaded.version, state: state_json });
            let new_fires = commit.new_fires.clone();
            match self.inner.store.commit(commit).await {
                Ok((fire_ids, _)) => {
                    *guard = Some(Loaded { state, version: loaded.version + 1, definition: loaded.definition });
                    drop(guard);
                    self.after_commit(id, &events, &new_fires, &fire_ids, lease_until);
                    return Ok((events, fire_ids));
                }
                Err(StoreError::VersionConflict { .. }) => {
                    *guard = Some(self.read(id).await?);
                }
                Err(error) => {
                    *guard = None;
                    return Err(error.into());
                }
            }
        }
        Err(EngineError::Contention { runbook: id.0 })
    }

    fn after_commit(
        &self,
        id: RunbookId,
        events: &[Event],
        new_fires: &[NewFire],
        fire_ids: &[cutover_integrations_store::FireId],
        lease_until: i64,
    ) {
        for event in events {
            let _ = self.inner.events.send(EngineEvent { runbook: id, event: event.clone() });
        }
        for (fire, id_of_fire) in new_fires.iter().zip(fire_ids) {
            let record = FireRecord {
                id: *id_of_fire,
                runbook_id: id,
                task_id: fire.task_id.clone(),
                fire_number: fire.fire_number,
                idempotency_key: fire.idempotency_key.clone(),
                status: fire.status,
                state: fire.state.clone(),
                due_at: fire.due_at,
                lease_owner: Some(self.inner.settings.name.clone()),
                lease_until: Some(lease_until),
                callback_token_hash: None,
            };
            let _ = self.inner.local_fires.send(record);
        }
        if !new_fires.is_empty() {
            self.inner.wake.notify_one();
        }
    }

    pub(crate) fn slot(&self, id: RunbookId) -> Arc<tokio::sync::Mutex<Option<Loaded>>> {
        let mut runbooks = self.inner.runbooks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        runbooks.entry(id).or_default().clone()
    }

    /// The runbook as cached, or read from the store.
    pub(crate) async fn load(&self, id: RunbookId) -> Result<Loaded, EngineError> {
        let slot = self.slot(id);
        let mut guard = slot.lock().await;
        if let Some(loaded) = guard.as_ref() {
            return Ok(loaded.clone());
        }
        let loaded = self.read(id).await?;
        *guard = Some(loaded.clone());
        Ok(loaded)
    }

    async fn read(&self, id: RunbookId) -> Result<Loaded, EngineError> {
        let record = self
            .inner
            .store
            .runbook(id)
            .await?
            .ok_or_else(|| EngineError::NotFound { what: "runbook", id: id.to_string() })?;
        let state: RunbookState = serde_json::from_str(&record.state).map_err(EngineError::corrupt("runbook state"))?;
        let definition: Runbook =
            serde_json::from_str(&record.definition).map_err(EngineError::corrupt("runbook definition"))?;
        Ok(Loaded { state, version: record.version, definition })
    }
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
