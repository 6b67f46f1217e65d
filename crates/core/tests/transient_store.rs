//! A transient store error while a fire is prepared is retried, and the fire goes on; a permanent one still fails
//! the fire. The store is a real SQLite store behind a wrapper that fails the next reads of an action as told.

use async_trait::async_trait;
use cutover_integrations_core::auth::{
    AuthError, Cipher, CredentialKey, CredentialStore, KeyRing, PendingAuthorization, StateRedemption, StoredCredential,
};
use cutover_integrations_core::model::*;
use cutover_integrations_core::store::*;
use cutover_integrations_core::{DriveOptions, Engine, ManualTasks};
use jiff::Timestamp;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A real [`SqlStore`] that fails the next [`Store::find_action`] calls with the errors queued in `failures`.
#[derive(Debug)]
struct FailingStore {
    inner: SqlStore,
    failures: Mutex<VecDeque<StoreError>>,
    failed: AtomicUsize,
}

#[async_trait]
impl Store for FailingStore {
    async fn apply_integration(&self, integration: &Integration, now: Millis) -> Result<AppliedDefinition, StoreError> {
        self.inner.apply_integration(integration, now).await
    }
    async fn integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.inner.integrations().await
    }
    async fn integrations_redacted(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.inner.integrations_redacted().await
    }
    async fn integration(&self, id: IntegrationId) -> Result<Option<IntegrationRecord>, StoreError> {
        self.inner.integration(id).await
    }
    async fn set_integration_archived(&self, id: IntegrationId, archived: bool, now: Millis) -> Result<(), StoreError> {
        self.inner.set_integration_archived(id, archived, now).await
    }
    async fn update_integration_settings(
        &self,
        id: IntegrationId,
        integration: &Integration,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.inner.update_integration_settings(id, integration, expected_version, now).await
    }
    async fn update_action_if(
        &self,
        id: ActionId,
        action: &Action,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.inner.update_action_if(id, action, expected_version, now).await
    }
    async fn action(&self, id: ActionId) -> Result<Option<ActionRecord>, StoreError> {
        self.inner.action(id).await
    }
    async fn find_action(&self, reference: &ActionRef) -> Result<Option<ActionRecord>, StoreError> {
        if let Some(failure) = self.failures.lock().expect("failures").pop_front() {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return Err(failure);
        }
        self.inner.find_action(reference).await
    }
    async fn update_action(&self, id: ActionId, action: &Action, now: Millis) -> Result<(), StoreError> {
        self.inner.update_action(id, action, now).await
    }
    async fn custom_fields(&self) -> Result<Vec<CustomField>, StoreError> {
        self.inner.custom_fields().await
    }
    async fn put_custom_field(&self, field: &CustomField, now: Millis) -> Result<(), StoreError> {
        self.inner.put_custom_field(field, now).await
    }
    async fn put_system_parameter(&self, parameter: &SystemParameter, now: Millis) -> Result<(), StoreError> {
        self.inner.put_system_parameter(parameter, now).await
    }
    async fn system_parameters(&self) -> Result<Vec<SystemParameter>, StoreError> {
        self.inner.system_parameters().await
    }
    async fn create_user(&self, user: &NewUser, token_hash: &str, now: Millis) -> Result<User, StoreError> {
        self.inner.create_user(user, token_hash, now).await
    }
    async fn users(&self) -> Result<Vec<User>, StoreError> {
        self.inner.users().await
    }
    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        self.inner.user_by_token_hash(token_hash).await
    }
    async fn create_runbook(&self, runbook: &NewRunbook<'_>, now: Millis) -> Result<WrittenRunbook, StoreError> {
        self.inner.create_runbook(runbook, now).await
    }
    async fn replace_runbook(
        &self,
        id: RunbookId,
        expected_version: i64,
        runbook: &ReplacedRunbook<'_>,
        now: Millis,
    ) -> Result<WrittenRunbook, StoreError> {
        self.inner.replace_runbook(id, expected_version, runbook, now).await
    }
    async fn runbook(&self, id: RunbookId) -> Result<Option<RunbookRecord>, StoreError> {
        self.inner.runbook(id).await
    }
    async fn runbooks(&self) -> Result<Vec<RunbookSummary>, StoreError> {
        self.inner.runbooks().await
    }
    async fn append_events(&self, events: &[(RunbookId, String)], now: Millis) -> Result<Vec<i64>, StoreError> {
        self.inner.append_events(events, now).await
    }
    async fn events_after(
        &self,
        after: i64,
        runbook: Option<RunbookId>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.events_after(after, runbook, limit).await
    }
    async fn event_bounds(&self) -> Result<EventBounds, StoreError> {
        self.inner.event_bounds().await
    }
    async fn prune_events(&self, before: Millis) -> Result<u64, StoreError> {
        self.inner.prune_events(before).await
    }
    async fn put_event_integration(
        &self,
        definition: &EventIntegration,
        now: Millis,
    ) -> Result<(EventIntegrationRecord, bool), StoreError> {
        self.inner.put_event_integration(definition, now).await
    }
    async fn replace_event_integration(
        &self,
        id: EventIntegrationId,
        definition: &EventIntegration,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<EventIntegrationRecord, StoreError> {
        self.inner.replace_event_integration(id, definition, expected_version, now).await
    }
    async fn event_integrations(&self, open: bool) -> Result<Vec<EventIntegrationRecord>, StoreError> {
        self.inner.event_integrations(open).await
    }
    async fn event_integration(
        &self,
        id: EventIntegrationId,
        open: bool,
    ) -> Result<Option<EventIntegrationRecord>, StoreError> {
        self.inner.event_integration(id, open).await
    }
    async fn delete_event_integration(&self, id: EventIntegrationId, now: Millis) -> Result<bool, StoreError> {
        self.inner.delete_event_integration(id, now).await
    }
    async fn route_events(
        &self,
        id: EventIntegrationId,
        from: i64,
        to: i64,
        deliveries: &[NewDelivery],
        now: Millis,
    ) -> Result<bool, StoreError> {
        self.inner.route_events(id, from, to, deliveries, now).await
    }
    async fn claim_deliveries(&self, request: &ClaimRequest) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.inner.claim_deliveries(request).await
    }
    async fn record_delivery(&self, update: &DeliveryUpdate, now: Millis) -> Result<bool, StoreError> {
        self.inner.record_delivery(update, now).await
    }
    async fn renew_delivery_lease(
        &self,
        owner: &str,
        event_id: i64,
        id: EventIntegrationId,
        until: Millis,
    ) -> Result<(), StoreError> {
        self.inner.renew_delivery_lease(owner, event_id, id, until).await
    }
    async fn runbook_deliveries(&self, runbook: RunbookId) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.inner.runbook_deliveries(runbook).await
    }
    async fn event_integration_deliveries(
        &self,
        id: EventIntegrationId,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.inner.event_integration_deliveries(id, limit).await
    }
    async fn runbook_page(&self, query: &RunbookQuery) -> Result<RunbookPage, StoreError> {
        self.inner.runbook_page(query).await
    }
    async fn runbooks_naming(&self, reference: TaskReference<'_>) -> Result<Vec<NamingRunbook>, StoreError> {
        self.inner.runbooks_naming(reference).await
    }
    async fn commit(&self, commit: Commit) -> Result<(Vec<FireId>, Vec<TimerId>), StoreError> {
        self.inner.commit(commit).await
    }
    async fn commit_runbook(
        &self,
        commit: Commit,
        rebuild: &mut RebuildCommit<'_>,
    ) -> Result<Option<Committed>, StoreError> {
        self.inner.commit_runbook(commit, rebuild).await
    }
    async fn runbook_if_changed(&self, id: RunbookId, known_version: i64) -> Result<Option<RunbookRecord>, StoreError> {
        self.inner.runbook_if_changed(id, known_version).await
    }
    async fn catalog_revision(&self) -> Result<i64, StoreError> {
        self.inner.catalog_revision().await
    }
    fn catalog_changes_here(&self) -> u64 {
        self.inner.catalog_changes_here()
    }
    async fn claim_fires(&self, request: &ClaimRequest) -> Result<Vec<FireRecord>, StoreError> {
        self.inner.claim_fires(request).await
    }
    async fn renew_fire_leases(
        &self,
        owner: &str,
        ids: &[FireId],
        lease_until: Millis,
    ) -> Result<Vec<FireId>, StoreError> {
        self.inner.renew_fire_leases(owner, ids, lease_until).await
    }
    async fn fire(&self, id: FireId) -> Result<Option<FireRecord>, StoreError> {
        self.inner.fire(id).await
    }
    async fn task_fires(&self, runbook: RunbookId, task: &str) -> Result<Vec<FireRecord>, StoreError> {
        self.inner.task_fires(runbook, task).await
    }
    async fn actions_log(&self, fire: FireId) -> Result<Vec<LogRecord>, StoreError> {
        self.inner.actions_log(fire).await
    }
    async fn claim_timers(&self, request: &ClaimRequest) -> Result<Vec<TimerRecord>, StoreError> {
        self.inner.claim_timers(request).await
    }
}

#[async_trait]
impl SessionStore for FailingStore {
    async fn create_session(&self, session: &NewSession<'_>, now: Millis, per_user: usize) -> Result<(), StoreError> {
        self.inner.create_session(session, now, per_user).await
    }
    async fn live_session(
        &self,
        id_hash: &str,
        now: Millis,
        idle_until: Millis,
        touch_after: Millis,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.inner.live_session(id_hash, now, idle_until, touch_after).await
    }
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.inner.delete_session(id_hash).await
    }
    async fn purge_sessions(&self, now: Millis) -> Result<u64, StoreError> {
        self.inner.purge_sessions(now).await
    }
}

#[async_trait]
impl CredentialStore for FailingStore {
    async fn load_credential(&self, key: &CredentialKey) -> Result<Option<StoredCredential>, AuthError> {
        self.inner.load_credential(key).await
    }
    async fn save_credential(&self, key: &CredentialKey, credential: &StoredCredential) -> Result<(), AuthError> {
        self.inner.save_credential(key, credential).await
    }
    async fn delete_credential(&self, key: &CredentialKey) -> Result<(), AuthError> {
        self.inner.delete_credential(key).await
    }
    async fn put_pending_authorization(&self, pending: &PendingAuthorization) -> Result<(), AuthError> {
        self.inner.put_pending_authorization(pending).await
    }
    async fn take_pending_authorization(&self, state: &str) -> Result<StateRedemption, AuthError> {
        self.inner.take_pending_authorization(state).await
    }
    async fn purge_expired_authorizations(&self, now: Timestamp) -> Result<usize, AuthError> {
        self.inner.purge_expired_authorizations(now).await
    }
}

const RUNBOOK: &str = "kind: runbook\nname: Release\ntasks:\n  - {id: announce, name: Announce, action: Hooks/Post}\n";

fn integration(base: &str) -> String {
    format!(
        "kind: integration\nname: Hooks\nactions:\n  - name: Post\n    settings: {{finish_task_on_success: true}}\n    \
         request: {{method: POST, url: '{base}/hook', payload: '{{}}'}}\n"
    )
}

/// What became of the one fire of a runbook whose action's lookup failed first with `failures`.
struct Ended {
    status: IntegrationStatus,
    reason: Option<String>,
    failed_lookups: usize,
}

/// Runs the one fire after `failures`, asserting that the hook received exactly `requests` requests.
async fn fire_after(failures: Vec<StoreError>, requests: usize) -> Ended {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", directory.path().join("transient.db").display());
    let cipher = Arc::new(Cipher::new(KeyRing::parse(KEY).expect("key")));
    let inner = SqlStore::connect(SqlStoreOptions::new(url), cipher).await.expect("store");
    let store = Arc::new(FailingStore { inner, failures: Mutex::new(VecDeque::new()), failed: AtomicUsize::new(0) });
    let engine = Engine::builder()
        .store(store.clone())
        .secret_key_base64(KEY)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .build()
        .await
        .expect("engine");
    let mut server = mockito::Server::new_async().await;
    let hook = server.mock("POST", "/hook").with_status(200).expect(requests).create_async().await;
    let applied = engine
        .apply_definitions(&[("hooks.yaml", &integration(&server.url())), ("runbook.yaml", RUNBOOK)])
        .await
        .expect("apply");
    // Armed after the definitions are applied (which read actions too): the fire's preparation meets them first.
    *store.failures.lock().expect("failures") = failures.into();
    let running = engine.start();
    let options = DriveOptions { mode: RunMode::Live, manual: ManualTasks::Finish };
    let report = running.drive(applied.runbooks[0], options).await.expect("drive");
    running.shutdown().await;
    hook.assert_async().await;
    let task = &report.tasks[0];
    Ended {
        status: task.integration_status,
        reason: task.reason.clone(),
        failed_lookups: store.failed.load(Ordering::Relaxed),
    }
}

fn transient() -> StoreError {
    StoreError::Database { operation: "find action", source: sqlx::Error::PoolTimedOut }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_store_error_while_preparing_a_fire_is_retried() {
    // Once, and twice in a row: the fire is sent once and succeeds.
    for failures in [vec![transient()], vec![transient(), transient()]] {
        let count = failures.len();
        let ended = fire_after(failures, 1).await;
        assert_eq!(ended.failed_lookups, count, "every queued failure was met");
        assert_eq!(ended.status, IntegrationStatus::Succeeded, "{:?}", ended.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_store_error_while_preparing_a_fire_fails_it() {
    let corrupt = StoreError::Corrupt { what: "action", reason: "not JSON".to_owned() };
    let ended = fire_after(vec![corrupt], 0).await;
    assert_eq!((ended.failed_lookups, ended.status), (1, IntegrationStatus::Failed));
    let reason = ended.reason.expect("a reason");
    assert!(reason.contains("stored action is corrupt: not JSON"), "{reason}");
}
