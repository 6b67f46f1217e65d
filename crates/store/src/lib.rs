//! Persistence for the engine behind one trait, [`Store`], with SQLite (the embedded default) and PostgreSQL.
//!
//! The store keeps what must survive a crash: definitions (integrations, actions, custom fields), system parameters,
//! users and hashed API tokens, runbooks with their state, fires with their actions log, durable timers, OAuth
//! credentials and one-time OAuth states.
//!
//! Two ideas shape it:
//!
//! - **An outbox.** The engine never changes a runbook in one transaction and queues work in another. A [`Commit`]
//!   carries the new runbook state (guarded by its version), the fires that became due, updates of fires the caller
//!   holds a lease on, actions log records and timers, and [`Store::commit`] writes all of it in one transaction or
//!   none of it.
//! - **Leases.** Due fires and timers are claimed with a lease ([`Store::claim_fires`], [`Store::claim_timers`]); on
//!   PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED`, so several engines on one database never claim the same row
//!   while their leases hold. A lease that expires (its engine crashed) makes the row claimable again; that is how a
//!   fire is re-sent after a crash, with the idempotency key it was created with.
//!
//! Runbook state, fire state and log records are stored as JSON documents whose shape belongs to the crates that
//! define them (runbook, HTTP executor); the store only guards versions and leases. Secrets are sealed by a
//! [`Sealer`] (the auth crate's cipher) with associated data naming their owner, so a sealed value moved to another
//! row does not open.
//!
//! One code path serves both backends through sqlx's `Any` driver; what differs (schema types, the claim query, the
//! transaction start) is chosen by [`Backend`]. The same test suite runs against both.
//!
//! Web console sessions are kept through [`SessionStore`] (`sessions.rs`): SHA-256 hashes of their ids, with idle and
//! absolute deadlines that every lookup checks.
//!
//! OAuth tokens and one-time authorization states are kept through the auth crate's
//! [`CredentialStore`], which every [`Store`] implements: records are
//! sealed with the owner's storage key as associated data; states are looked up by their SHA-256, and a redeemed
//! state is kept (empty) until it expires so that a replay is told apart from an unknown state.

mod commit;
mod committer;
mod credentials;
mod error;
mod event_integrations;
mod event_log;
mod group;
mod guarded;
mod key_check;
mod migrate;
mod pages;
mod records;
mod references;
mod sealer;
mod sessions;
mod sql;
mod writer;

pub use error::{StoreError, Transience};
pub use event_integrations::{
    DeliveryOutcome, DeliveryRecord, DeliveryStatus, DeliveryUpdate, EventIntegrationId, EventIntegrationRecord,
    NewDelivery,
};
pub use event_log::{EventBounds, StoredEvent};
pub use key_check::Resealed;
pub use pages::{RunbookListing, RunbookPage, RunbookQuery};
pub use records::{
    ActionId, ActionRecord, AppliedDefinition, ClaimRequest, Commit, Committed, FireGuard, FireId, FireKind,
    FireRecord, FireStatus, FireUpdate, IntegrationId, IntegrationRecord, LogFire, LogRecord, Millis, NewEvent,
    NewFire, NewLogRecord, NewRunbook, NewTimer, NewUser, RebuildCommit, ReplacedRunbook, RunbookId, RunbookRecord,
    RunbookSummary, RunbookWrite, TaskRow, TimerId, TimerRecord, User, UserId, WrittenRunbook,
};
pub use references::{NamingRunbook, TaskReference};
pub use sealer::{SealError, SealFailure, Sealer};
pub use sessions::{NewSession, SessionRecord, SessionStore};
pub use sql::{Backend, SqlStore, SqlStoreOptions};

use async_trait::async_trait;
use cutover_integrations_auth::CredentialStore;
use cutover_integrations_model::{Action, ActionRef, CustomField, EventIntegration, Integration, SystemParameter};

/// Everything the engine and the server persist. Implemented by [`SqlStore`] for SQLite and PostgreSQL.
///
/// Times are unix milliseconds passed in by the caller, so the engine's clock (real or simulated) decides them.
#[async_trait]
pub trait Store: CredentialStore + SessionStore + Send + Sync + 'static {
    /// Creates or updates an integration by name, its actions by name and its custom fields by name, in one
    /// transaction. Secret-bearing auth settings are sealed. Returns what changed.
    async fn apply_integration(&self, integration: &Integration, now: Millis) -> Result<AppliedDefinition, StoreError>;

    /// Every integration with its actions and custom fields, archived ones included, ordered by name.
    async fn integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError>;

    /// [`Store::integrations`] as lists show them, without opening a secret: every secret-bearing auth value reads
    /// `[REDACTED]`. A database whose key is unavailable still answers it.
    async fn integrations_redacted(&self) -> Result<Vec<IntegrationRecord>, StoreError>;

    /// One integration by id.
    async fn integration(&self, id: IntegrationId) -> Result<Option<IntegrationRecord>, StoreError>;

    /// Archives or unarchives an integration.
    async fn set_integration_archived(&self, id: IntegrationId, archived: bool, now: Millis) -> Result<(), StoreError>;

    /// Replaces an integration's own settings (its body without actions, with the image URL, and the archived flag)
    /// if its version is still `expected_version` (any version when `None`); [`StoreError::Stale`] otherwise, with
    /// nothing written.
    async fn update_integration_settings(
        &self,
        id: IntegrationId,
        integration: &Integration,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<(), StoreError>;

    /// [`Store::update_action`] if the version of the action's integration is still `expected_version` (any version
    /// when `None`); [`StoreError::Stale`] otherwise, with nothing written.
    async fn update_action_if(
        &self,
        id: ActionId,
        action: &Action,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<(), StoreError>;

    /// One action by id.
    async fn action(&self, id: ActionId) -> Result<Option<ActionRecord>, StoreError>;

    /// One action by its `INTEGRATION/ACTION` reference.
    async fn find_action(&self, reference: &ActionRef) -> Result<Option<ActionRecord>, StoreError>;

    /// Replaces an action's definition (its name included).
    async fn update_action(&self, id: ActionId, action: &Action, now: Millis) -> Result<(), StoreError>;

    /// Every custom field, ordered by name.
    async fn custom_fields(&self) -> Result<Vec<CustomField>, StoreError>;

    /// Creates or replaces a custom field by name.
    async fn put_custom_field(&self, field: &CustomField, now: Millis) -> Result<(), StoreError>;

    /// Creates or replaces a system parameter; its value is sealed whether or not it is secret.
    async fn put_system_parameter(&self, parameter: &SystemParameter, now: Millis) -> Result<(), StoreError>;

    /// Every system parameter with its value opened, ordered by name. Callers decide what to show.
    async fn system_parameters(&self) -> Result<Vec<SystemParameter>, StoreError>;

    /// Creates a user holding one API token, given by its hash (the token itself is never stored).
    async fn create_user(&self, user: &NewUser, token_hash: &str, now: Millis) -> Result<User, StoreError>;

    /// Every user, ordered by id.
    async fn users(&self) -> Result<Vec<User>, StoreError>;

    /// The user holding the API token with this hash.
    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>, StoreError>;

    /// Creates a runbook at version 1 from its definition document (JSON), its run-level state (JSON) and every task's
    /// state (a row each, inserted together in one statement), and appends its events to the log, all in one
    /// transaction: a runbook never exists without its creation's events, and a creation that fails leaves neither.
    async fn create_runbook(&self, runbook: &NewRunbook<'_>, now: Millis) -> Result<WrittenRunbook, StoreError>;

    /// Replaces a runbook's name, definition, run-level state and every task's state (editing a runbook being
    /// planned), if its version is still `expected_version` ([`StoreError::VersionConflict`] otherwise), and appends
    /// its events to the log in the same transaction.
    async fn replace_runbook(
        &self,
        id: RunbookId,
        expected_version: i64,
        runbook: &ReplacedRunbook<'_>,
        now: Millis,
    ) -> Result<WrittenRunbook, StoreError>;

    /// One runbook with its definition, run-level state, every task's state and version, read in one statement.
    async fn runbook(&self, id: RunbookId) -> Result<Option<RunbookRecord>, StoreError>;

    /// Every runbook, without state, ordered by id.
    async fn runbooks(&self) -> Result<Vec<RunbookSummary>, StoreError>;

    /// Appends events (runbook, JSON body) to the durable log in one transaction; returns their ids, which follow
    /// every id given before.
    async fn append_events(&self, events: &[(RunbookId, String)], now: Millis) -> Result<Vec<i64>, StoreError>;

    /// Up to `limit` events with an id above `after`, of one runbook or all, in id order.
    async fn events_after(
        &self,
        after: i64,
        runbook: Option<RunbookId>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// The oldest event kept and the last id given.
    async fn event_bounds(&self) -> Result<EventBounds, StoreError>;

    /// Removes the events appended before `before`; returns how many.
    async fn prune_events(&self, before: Millis) -> Result<u64, StoreError>;

    /// Creates or updates (by name) an event integration, its auth sealed; returns it (auth opened) and whether it
    /// was created. A new one, or one that is enabled again, starts after the last event logged so far.
    async fn put_event_integration(
        &self,
        definition: &EventIntegration,
        now: Millis,
    ) -> Result<(EventIntegrationRecord, bool), StoreError>;

    /// Replaces the definition of the event integration `id`, which must have the definition's name
    /// ([`StoreError::NotFound`] otherwise), if it is still at `expected_version` ([`StoreError::Stale`] otherwise,
    /// nothing changed; any version when `None`); returns it, auth opened.
    async fn replace_event_integration(
        &self,
        id: EventIntegrationId,
        definition: &EventIntegration,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<EventIntegrationRecord, StoreError>;

    /// Every event integration in name order, auth opened when `open`, otherwise its secrets `[REDACTED]`.
    async fn event_integrations(&self, open: bool) -> Result<Vec<EventIntegrationRecord>, StoreError>;

    /// One event integration, auth opened when `open`.
    async fn event_integration(
        &self,
        id: EventIntegrationId,
        open: bool,
    ) -> Result<Option<EventIntegrationRecord>, StoreError>;

    /// Deletes an event integration and gives up its deliveries still due (their log stays); whether it existed.
    async fn delete_event_integration(&self, id: EventIntegrationId, now: Millis) -> Result<bool, StoreError>;

    /// Moves an event integration's cursor from `from` to `to` and creates `deliveries` (one per event at most), in
    /// one transaction; `false`, writing nothing, when the cursor is no longer at `from` (another engine routed them).
    async fn route_events(
        &self,
        id: EventIntegrationId,
        from: i64,
        to: i64,
        deliveries: &[NewDelivery],
        now: Millis,
    ) -> Result<bool, StoreError>;

    /// Leases up to `request.limit` due deliveries, each the first not done of its (event integration, runbook), in
    /// event order.
    async fn claim_deliveries(&self, request: &ClaimRequest) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// Records a delivery step if `update.owner` still holds its lease; whether it did.
    async fn record_delivery(&self, update: &DeliveryUpdate, now: Millis) -> Result<bool, StoreError>;

    /// Extends the lease of a delivery in flight.
    async fn renew_delivery_lease(
        &self,
        owner: &str,
        event_id: i64,
        id: EventIntegrationId,
        until: Millis,
    ) -> Result<(), StoreError>;

    /// Every delivery of a runbook's events, in event order.
    async fn runbook_deliveries(&self, runbook: RunbookId) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// An event integration's latest `limit` deliveries, newest event first.
    async fn event_integration_deliveries(
        &self,
        id: EventIntegrationId,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError>;

    /// One page of runbooks as lists show them, in id order, filtered, in one query.
    async fn runbook_page(&self, query: &RunbookQuery) -> Result<RunbookPage, StoreError>;

    /// The runbooks (id order) with a task naming the integration or action, found in one query.
    async fn runbooks_naming(&self, reference: TaskReference<'_>) -> Result<Vec<NamingRunbook>, StoreError>;

    /// Writes a [`Commit`] in one transaction: all of it or, on any error, none of it. A runbook write whose expected
    /// version is stale fails with [`StoreError::VersionConflict`]; a fire update whose guard does not hold fails
    /// with [`StoreError::FireGuardFailed`]. Returns the ids of the fires and timers created, in order.
    async fn commit(&self, commit: Commit) -> Result<(Vec<FireId>, Vec<TimerId>), StoreError>;

    /// Writes a [`Commit`] that changes a runbook (`commit.runbook` is required) in one transaction, without ever
    /// failing on a version conflict: when the runbook moved past `expected_version` (another engine wrote it), the
    /// store reads what changed since (see [`RebuildCommit`]) inside the transaction, holding its lock so that nobody
    /// moves it meanwhile, and writes the commit `rebuild` makes from it instead. `Ok(None)` when `rebuild` declined
    /// (nothing was written).
    ///
    /// This is how several engines share a runbook: each writes against its cached state, and only the writer that
    /// lost a race pays for reading what changed.
    async fn commit_runbook(
        &self,
        commit: Commit,
        rebuild: &mut RebuildCommit<'_>,
    ) -> Result<Option<Committed>, StoreError>;

    /// What changed in a runbook since `known_version` (someone changed it since), `None` if it is still at that
    /// version: the run-level state, the definition if it was written after `known_version`, and the tasks written
    /// after it. A reader holding the runbook at `known_version` puts these parts over its own to have it as stored.
    /// (A version below `known_version`, which only a database restored from a backup can show, comes whole.)
    async fn runbook_if_changed(&self, id: RunbookId, known_version: i64) -> Result<Option<RunbookRecord>, StoreError>;

    /// A number that every change of definitions (integrations, actions, custom fields) and system parameters
    /// increases, so that engines caching them notice changes made through other engines.
    async fn catalog_revision(&self) -> Result<i64, StoreError>;

    /// How many changes of definitions and system parameters went through this store instance (and its clones).
    /// Caches in the same process compare it to notice their own process's changes at once, without a round trip;
    /// [`Store::catalog_revision`] tells them about other processes' changes.
    fn catalog_changes_here(&self) -> u64;

    /// Claims up to `limit` fires that are due (`due_at <= now`), not done and not leased, leasing them to `owner`.
    async fn claim_fires(&self, request: &ClaimRequest) -> Result<Vec<FireRecord>, StoreError>;

    /// Extends the lease of fires `owner` holds; returns the ids whose lease it still held.
    async fn renew_fire_leases(
        &self,
        owner: &str,
        ids: &[FireId],
        lease_until: Millis,
    ) -> Result<Vec<FireId>, StoreError>;

    /// One fire.
    async fn fire(&self, id: FireId) -> Result<Option<FireRecord>, StoreError>;

    /// The fires of one task, oldest first.
    async fn task_fires(&self, runbook: RunbookId, task: &str) -> Result<Vec<FireRecord>, StoreError>;

    /// The actions log records of one fire, in the order they were written.
    async fn actions_log(&self, fire: FireId) -> Result<Vec<LogRecord>, StoreError>;

    /// Claims up to `limit` due timers, leasing them to `owner`.
    async fn claim_timers(&self, request: &ClaimRequest) -> Result<Vec<TimerRecord>, StoreError>;
}
