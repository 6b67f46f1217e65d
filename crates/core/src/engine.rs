//! The [`Engine`]: what embedders, the server and the CLI call. Definitions, users, system parameters, runbooks and
//! their commands; every change of a runbook is applied to the state machine and persisted with its effects in one
//! transaction.

use crate::api_token::{MintedToken, hash_token, mint_token};
use crate::catalog::Catalog;
use crate::command::UserCommand;
use crate::commit_queue::{CacheSizes, Change, CommitQueue, CommitSettings};
use crate::config::{EngineBuilder, EngineSettings};
use crate::dispatcher::Dispatcher;
use crate::error::EngineError;
use crate::events::{EndedFires, EngineEvent};
use crate::stored_runbook::Loaded;
use crate::validation::ValidationPool;
use cutover_integrations_auth::{Authenticator, AuthenticatorSettings, Clock};
use cutover_integrations_http::{CallbackAuthority, ExecutorConfig, HttpExecutor, Timer};
use cutover_integrations_model::{
    Action, CustomField, Definition, Integration, ParsedDefinition, Runbook, SourceFile, SystemParameter, Validator,
};
use cutover_integrations_runbook::{Actor, Event, RunbookPlan, RunbookState};
use cutover_integrations_store::{
    EventBounds, IntegrationId, IntegrationRecord, NewRunbook, NewUser, RunbookId, RunbookSummary, Store, StoredEvent,
    User,
};
use cutover_integrations_template::Checker;
use jiff::Timestamp;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

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
    /// Listeners of events, the durable event log's last written id and pruning (see `event_log.rs`).
    pub(crate) event_log: Arc<crate::event_log::EventLog>,
    /// The runbooks kept in memory and their queues of changes to commit (see `commit_queue.rs`).
    pub(crate) commits: Arc<CommitQueue>,
    /// Compiled actions and system parameters, so that fire steps do not read them from the store.
    pub(crate) catalog: Catalog,
    /// The dispatcher's state (see `dispatcher.rs`): running or stopping, slots, fires in flight, wake-up.
    pub(crate) dispatcher: Arc<Dispatcher>,
    /// Where definition files are validated ([`EngineSettings::max_concurrent_validations`]).
    pub(crate) validations: ValidationPool,
    /// API tokens recently found valid (see `api_token.rs`).
    pub(crate) tokens: crate::api_token::TokenCache,
    /// Told the duration of each request attempt once it is recorded ([`Engine::observe_attempts`]).
    pub(crate) attempt_observers: std::sync::RwLock<Vec<AttemptObserver>>,
}

/// Told the duration in seconds of a fire's request attempt once its step is recorded; see
/// [`Engine::observe_attempts`].
pub type AttemptObserver = Arc<dyn Fn(f64) + Send + Sync>;

/// A runbook with its current state.
#[derive(Debug, Clone)]
pub struct RunbookView {
    /// Its id.
    pub id: RunbookId,
    /// The definition it was created from.
    pub definition: Runbook,
    /// The state machine's state: stage, mode, every task.
    pub state: RunbookState,
    /// The stored version this view was read at: every change of the runbook or of one of its tasks increases it.
    /// What an `ETag` of the runbook or of one of its tasks encodes.
    pub version: i64,
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
    /// Event integrations created or updated, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_integrations: Vec<cutover_integrations_store::EventIntegrationId>,
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
        let settings_poll_interval = settings.poll_interval;
        let settings_max_concurrent_fires = settings.max_concurrent_fires.max(1);
        let settings_max_cached_actions = settings.max_cached_actions;
        let validations = ValidationPool::new(settings.max_concurrent_validations);
        let catalog = Catalog::new(store.clone(), settings_poll_interval, settings_max_cached_actions);
        let clock = timer.clone();
        let event_log =
            Arc::new(crate::event_log::EventLog::start(store.clone(), settings.event_retention, move || {
                clock.now().as_millisecond()
            }));
        let dispatcher = Arc::new(Dispatcher::new(settings_max_concurrent_fires));
        let commits = Arc::new(CommitQueue::new(
            store.clone(),
            timer.clone(),
            dispatcher.clone(),
            event_log.clone(),
            CommitSettings {
                engine_name: settings.name.clone(),
                lease: settings.lease,
                max_cached_runbooks: settings.max_cached_runbooks,
            },
        ));
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                executor,
                authenticator,
                callbacks,
                timer,
                settings,
                event_log,
                commits,
                catalog,
                dispatcher,
                validations,
                tokens: crate::api_token::TokenCache::default(),
                attempt_observers: std::sync::RwLock::new(Vec::new()),
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

    /// Calls `observer` with the duration (seconds) of every request attempt a fire step sent, as the step's record
    /// (with the attempts for the fire's actions log) is about to be committed; the preview of a record-only fire is
    /// not an attempt sent. What a histogram of attempt durations needs, without reading the log back: the observer
    /// runs on the recording task, so it should only count.
    pub fn observe_attempts(&self, observer: AttemptObserver) {
        self.inner.attempt_observers.write().unwrap_or_else(std::sync::PoisonError::into_inner).push(observer);
    }

    /// Tells the attempt observers of the attempts among `entries`, which a step just sent.
    pub(crate) fn tell_attempts(&self, entries: &[cutover_integrations_http::LogEntry]) {
        let observers = self.inner.attempt_observers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        if observers.is_empty() {
            return;
        }
        for entry in entries {
            if let cutover_integrations_http::LogEntry::Attempt(attempt) = entry {
                let seconds = attempt.duration_seconds();
                for observer in observers.iter() {
                    observer(seconds);
                }
            }
        }
    }

    /// Listens to runbook and task changes.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.event_log.subscribe()
    }

    /// Fires that ended in this engine's commits since it was built, by outcome: exact, whether or not listeners of
    /// [`Engine::subscribe`] keep up.
    pub fn ended_fires(&self) -> EndedFires {
        self.inner.event_log.ended_fires()
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
        self.inner.event_log.changes()
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.inner.timer.now()
    }

    /// How many runbooks this engine keeps in memory now (see [`EngineSettings::max_cached_runbooks`]), and how many
    /// compiled actions ([`EngineSettings::max_cached_actions`]).
    pub fn cached(&self) -> CacheSizes {
        CacheSizes { runbooks: self.inner.commits.cached_runbooks(), actions: self.inner.catalog.cached_actions() }
    }

    // Definitions ----------------------------------------------------------------------------------------------------

    /// Validates definition files together (templates checked, runbook references resolved against these files and
    /// the integrations already stored) and applies them: integrations are created or updated, runbooks created.
    /// Nothing is applied unless every file validates.
    pub async fn apply_definitions(&self, files: &[(&str, &str)]) -> Result<AppliedDefinitions, EngineError> {
        let files: Vec<(String, String)> =
            files.iter().map(|(name, text)| ((*name).to_owned(), (*text).to_owned())).collect();
        let parsed = self
            .validate_blocking(move || {
                let sources: Vec<SourceFile<'_>> =
                    files.iter().map(|(name, text)| SourceFile::new(name, text)).collect();
                Validator::with_checker(&Checker).validate(&sources)
            })
            .await?
            .map_err(|diagnostics| EngineError::Invalid { diagnostics })?;
        let now = self.now().as_millisecond();
        let mut applied =
            AppliedDefinitions { integrations: Vec::new(), runbooks: Vec::new(), event_integrations: Vec::new() };
        for definition in parsed.definitions() {
            if let Definition::Integration(integration) = definition.definition() {
                self.check_immutable(integration).await?;
                applied.integrations.push(self.inner.store.apply_integration(integration, now).await?);
            }
        }
        for definition in parsed.definitions() {
            if let Definition::EventIntegration(events) = definition.definition() {
                applied.event_integrations.push(self.put_event_integration(events).await?.0.id);
            }
        }
        for definition in parsed.definitions() {
            if let Definition::Runbook(runbook) = definition.definition() {
                applied.runbooks.push(self.create_runbook(runbook.clone()).await?);
            }
        }
        Ok(applied)
    }

    /// Reads one definition file and checks the rules that need no other file (templates included), off the async
    /// workers: what a server calls to see what a file is before deciding who may apply it.
    pub async fn check_definition(&self, name: &str, text: &str) -> Result<ParsedDefinition, EngineError> {
        let (name, text) = (name.to_owned(), text.to_owned());
        self.validate_blocking(move || Validator::with_checker(&Checker).parse(&SourceFile::new(&name, &text)))
            .await?
            .map_err(|diagnostics| EngineError::Invalid { diagnostics })
    }

    /// Runs validation `work` on a blocking thread, at most [`EngineSettings::max_concurrent_validations`] at once.
    pub(crate) async fn validate_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, EngineError> {
        self.inner.validations.run(work).await
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

    /// Every integration with its actions as lists show them: secret-bearing auth values read `[REDACTED]`, and no
    /// secret is opened to answer.
    pub async fn integrations_redacted(&self) -> Result<Vec<IntegrationRecord>, EngineError> {
        Ok(self.inner.store.integrations_redacted().await?)
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
        storable([("name", parameter.name.as_str()), ("value", parameter.value.expose())])?;
        Ok(self.inner.store.put_system_parameter(parameter, self.now().as_millisecond()).await?)
    }

    // Users ----------------------------------------------------------------------------------------------------------

    /// Creates a user with a new API token, returned once; the user is checked and normalised first
    /// ([`crate::checked_new_user`]).
    pub async fn create_user(&self, user: &NewUser) -> Result<CreatedUser, EngineError> {
        let user = &crate::users::checked_new_user(user)?;
        storable([("name", user.name.as_str()), ("email", user.email.as_str())])?;
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

    /// The user holding an API token. A token found valid is believed for a few seconds without asking the store
    /// again, so that authenticating a request costs no query; a token found invalid is asked again every time.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>, EngineError> {
        let hash = hash_token(token);
        let now = std::time::Instant::now();
        if let Some(user) = self.inner.tokens.fresh(&hash, now) {
            return Ok(Some(user));
        }
        let user = self.inner.store.user_by_token_hash(&hash).await?;
        if let Some(user) = &user {
            self.inner.tokens.remember(hash, user, now);
        }
        Ok(user)
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
        let loaded = Loaded::new(runbook, state);
        let tasks = loaded.task_documents()?;
        // The creation's events are written with the runbook: `runbook_created`, then the tasks made (for
        // `task.created`) in bounded parts.
        let made = loaded.state.tasks().map(|task| task.plan.id.clone()).collect();
        let created = crate::event_log::creation_bodies(made);
        let new = NewRunbook {
            name: &loaded.definition.name,
            definition: &loaded.definition_document()?,
            state: &loaded.header_document()?,
            tasks: &tasks,
            events: &created,
        };
        let written = self.inner.store.create_runbook(&new, self.now().as_millisecond()).await?;
        let id = written.id;
        *self.inner.commits.slot(id).cached.lock().await = Some(Arc::new(loaded));
        self.inner.event_log.publish_committed(
            vec![EngineEvent { runbook: id, event: Event::RunbookCreated }],
            written.event_ids.last().copied(),
        );
        Ok(id)
    }

    /// Every runbook.
    pub async fn runbooks(&self) -> Result<Vec<RunbookSummary>, EngineError> {
        Ok(self.inner.store.runbooks().await?)
    }

    /// One page of runbooks as lists show them (see [`cutover_integrations_store::RunbookQuery`]), in one query.
    pub async fn runbook_page(
        &self,
        query: &cutover_integrations_store::RunbookQuery,
    ) -> Result<cutover_integrations_store::RunbookPage, EngineError> {
        Ok(self.inner.store.runbook_page(query).await?)
    }

    /// A runbook with its current state (as stored: changes made through other engines included).
    pub async fn runbook(&self, id: RunbookId) -> Result<RunbookView, EngineError> {
        let loaded = self.inner.commits.load_fresh(id).await?;
        Ok(RunbookView {
            id,
            definition: (*loaded.definition).clone(),
            state: loaded.state.clone(),
            version: loaded.version,
        })
    }

    /// A copy of a runbook in `planning`, without transient custom field values (and never task-user tokens, which
    /// belong to the original's tasks).
    pub async fn duplicate_runbook(&self, id: RunbookId) -> Result<RunbookId, EngineError> {
        let loaded = self.inner.commits.load_fresh(id).await?;
        let state = loaded.state.duplicate();
        let mut definition = (*loaded.definition).clone();
        definition.name = format!("{} (copy)", definition.name);
        self.insert_runbook(definition, state).await
    }

    /// Applies a command from `actor` to a runbook: the state machine decides, and the new state and its effects (due
    /// fires, wake-ups) are stored in one transaction. Returns the events the command caused. Only a [`UserCommand`]
    /// is accepted: fire outcomes and the passing of time are the engine's own.
    ///
    /// A refused command changes nothing. A command that races with another engine writing the same runbook is
    /// applied to the state that engine left (never lost, never applied twice).
    ///
    /// ```
    /// use cutover_integrations_core::model::{RunMode, TaskStage};
    /// use cutover_integrations_core::runbook::{Actor, Event};
    /// use cutover_integrations_core::{Engine, EngineError, UserCommand, generate_secret_key};
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
    /// let start = UserCommand::StartTask { task: "deploy".into(), force: false };
    ///
    /// // Refused while the runbook is still being planned: nothing changes.
    /// let refused = engine.command(runbook, start.clone(), &Actor::engine()).await;
    /// assert!(matches!(refused, Err(EngineError::Refused(_))));
    ///
    /// engine.command(runbook, UserCommand::StartRunbook { mode: RunMode::Live }, &Actor::engine()).await?;
    /// let events = engine.command(runbook, start, &Actor::engine()).await?;
    /// assert!(events.iter().any(|event| matches!(event, Event::TaskStageChanged { to: TaskStage::InProgress, .. })));
    /// let view = engine.runbook(runbook).await?;
    /// assert_eq!(view.state.task("deploy").map(|task| task.state.stage()), Some(TaskStage::InProgress));
    /// # Ok(()) }
    /// # tokio::runtime::Runtime::new().expect("runtime").block_on(run()).expect("the example runs");
    /// ```
    pub async fn command(&self, id: RunbookId, command: UserCommand, actor: &Actor) -> Result<Vec<Event>, EngineError> {
        if self.inner.dispatcher.is_stopping() {
            return Err(EngineError::ShuttingDown);
        }
        let events = self.inner.commits.apply(id, Change::command(command.into(), actor)).await?;
        self.end_cancelled_fires(id, &events).await?;
        Ok(events)
    }

    /// Applies a command like [`Engine::command`] and answers with one task as the commit that recorded the command
    /// left it ([`Engine::task_as_committed`] read then): the answer to a task command, copied while the commit still
    /// holds the runbook rather than after waiting for the runbook behind the next commit.
    pub async fn command_answering_task(
        &self,
        id: RunbookId,
        command: UserCommand,
        actor: &Actor,
        task: &str,
    ) -> Result<crate::TaskSnapshot, EngineError> {
        if self.inner.dispatcher.is_stopping() {
            return Err(EngineError::ShuttingDown);
        }
        let change = Change { answer_task: Some(task.to_owned()), ..Change::command(command.into(), actor) };
        let answer = self.inner.commits.apply_answering(id, change).await?;
        self.end_cancelled_fires(id, &answer.events).await?;
        match answer.task {
            Some(snapshot) => Ok(*snapshot),
            None => self.task_as_committed(id, task).await,
        }
    }
}

pub(crate) fn immutable_fields(existing: &Action, new: &Action) -> Result<(), EngineError> {
    if existing.trigger != new.trigger {
        return Err(EngineError::Immutable { action: new.name.clone(), field: "trigger" });
    }
    if existing.visibility != new.visibility {
        return Err(EngineError::Immutable { action: new.name.clone(), field: "visibility" });
    }
    Ok(())
}

/// Refuses names and values no backend can store (see [`cutover_integrations_model::storable_text`]), each at its path.
fn storable<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), EngineError> {
    let problems: Vec<crate::InputProblem> = values
        .into_iter()
        .filter_map(|(path, text)| {
            cutover_integrations_model::storable_text(text).err().map(|message| crate::InputProblem::new(path, message))
        })
        .collect();
    if problems.is_empty() { Ok(()) } else { Err(EngineError::InvalidInput { problems }) }
}
