//! [`SqlStore`]: the [`Store`] on SQLite or PostgreSQL through sqlx's `Any` driver.

use crate::commit::{SQLITE_RESULTS, lock_runbook, sqlite_plan_objects, task_row};
use crate::committer::SqliteCommitter;
use crate::error::{StoreError, Transience};
use crate::records::*;
use crate::sealer::Sealer;
use crate::writer::{SqliteWriter, WriteTx, Writer};
use crate::{DeliveryRecord, DeliveryUpdate, EventIntegrationId, EventIntegrationRecord, NewDelivery, Store, migrate};
use async_trait::async_trait;
use cutover_integrations_model::{
    Action, ActionRef, AuthSettings, CustomField, EventIntegration, Integration, SecretValue, SystemParameter,
};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyConnection, AnyPool, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The database behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite: the embedded default, a file in WAL mode.
    Sqlite,
    /// PostgreSQL: for several engines sharing one database.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl { url: without_password(url) })
        }
    }

    /// Writers on SQLite take the write lock at once, so that a transaction never fails upgrading a read lock.
    pub(crate) fn begin_statement(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// Rows claimed by one engine are skipped, not waited for, by the others.
    fn claim_lock_clause(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// How to open a [`SqlStore`].
#[derive(Debug, Clone)]
pub struct SqlStoreOptions {
    /// `sqlite://PATH` (created if missing) or `postgres://USER:PASSWORD@HOST/DB`.
    pub url: String,
    /// Pool size.
    pub max_connections: u32,
    /// SQLite `synchronous=FULL` (an fsync per commit: survives power loss) instead of `NORMAL` (survives a crash of
    /// the process, the default).
    pub sqlite_full_sync: bool,
}

impl SqlStoreOptions {
    /// Options with defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), max_connections: 8, sqlite_full_sync: false }
    }
}

/// The [`Store`] on SQLite or PostgreSQL.
#[derive(Clone)]
pub struct SqlStore {
    /// Reads.
    pub(crate) pool: AnyPool,
    /// Writes: on SQLite one dedicated connection, on PostgreSQL the same pool as reads.
    pub(crate) writer: Writer,
    /// Catalog changes made through this instance; see [`Store::catalog_changes_here`].
    catalog_changes: Arc<std::sync::atomic::AtomicU64>,
    /// Commits waiting to be written together (see `group.rs`).
    pub(crate) group: Arc<crate::group::CommitGroup>,
    /// Held by every clone; background tasks stop when the last clone is gone.
    _alive: Arc<()>,
    backend: Backend,
    sealer: Arc<dyn Sealer>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("backend", &self.backend).finish_non_exhaustive()
    }
}

const FIRE_COLUMNS: &str = "id, runbook_id, task_id, fire_number, idempotency_key, status, state, due_at, lease_owner, \
                            lease_until, callback_token_hash";

impl SqlStore {
    /// Opens the database, creating a SQLite file (and its directory) if missing, and applies migrations.
    pub async fn connect(options: SqlStoreOptions, sealer: Arc<dyn Sealer>) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&options.url)?;
        let mut url = options.url.clone();
        // The SQLite database file, for the commit writer's connection (`None`: in memory, or not SQLite).
        let mut sqlite_file = None;
        if backend == Backend::Sqlite {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default();
            if !path.is_empty() && path != ":memory:" && !url.contains("mode=memory") {
                sqlite_file = Some(path.to_owned());
            }
            if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|error| StoreError::Database {
                    operation: "creating the database directory",
                    source: sqlx::Error::Io(error),
                })?;
            }
            if !url.contains('?') {
                url.push_str("?mode=rwc");
            }
        }
        let synchronous = if options.sqlite_full_sync { "FULL" } else { "NORMAL" };
        let pragmas = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000; \
             PRAGMA foreign_keys = ON;"
        );
        let reader_pragmas = pragmas.clone();
        let pool_options = |size: u32| {
            let pragmas = reader_pragmas.clone();
            AnyPoolOptions::new()
                .max_connections(size)
                .acquire_timeout(Duration::from_secs(30))
                // A SQLite connection is a file handle in this process: it does not go stale, and testing it would
                // cost a round trip to its worker thread on every acquire.
                .test_before_acquire(backend == Backend::Postgres)
                .after_connect(move |connection, _meta| {
                    let pragmas = pragmas.clone();
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            sqlx::raw_sql(sqlx::AssertSqlSafe(pragmas)).execute(&mut *connection).await?;
                        }
                        Ok(())
                    })
                })
        };
        let (pool, writer) = match backend {
            Backend::Sqlite => {
                let readers = pool_options(options.max_connections.clamp(1, 4))
                    .connect(&url)
                    .await
                    .map_err(StoreError::db("connecting"))?;
                migrate::migrate(&readers, backend).await?;
                let mut connection =
                    <AnyConnection as sqlx::Connection>::connect(&url).await.map_err(StoreError::db("connecting"))?;
                // The view and table through which a plan is written in one statement (see `commit.rs`); per
                // connection, in memory. Checkpoints run in the background (`checkpoint_in_background`), not on commits: the one
                // that commits past the threshold would otherwise wait for two fsyncs. The threshold stays as a
                // backstop.
                let setup = format!(
                    "{pragmas} PRAGMA wal_autocheckpoint = {CHECKPOINT_BACKSTOP_PAGES}; PRAGMA temp_store = MEMORY; \
                     {}",
                    sqlite_plan_objects()
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(setup.clone()))
                    .execute(&mut connection)
                    .await
                    .map_err(StoreError::db("preparing the writing connection"))?;
                let committer = match &sqlite_file {
                    Some(path) => Some(SqliteCommitter::start(path, &setup, SQLITE_RESULTS)?),
                    None => None,
                };
                let writer = SqliteWriter { connection, committer, open_transaction: false };
                (readers, Writer::Sqlite(Arc::new(tokio::sync::Mutex::new(writer))))
            }
            Backend::Postgres => {
                let pool =
                    pool_options(options.max_connections).connect(&url).await.map_err(StoreError::db("connecting"))?;
                migrate::migrate(&pool, backend).await?;
                (pool.clone(), Writer::Pool(pool))
            }
        };
        let alive = Arc::new(());
        if backend == Backend::Sqlite {
            checkpoint_in_background(pool.clone(), Arc::downgrade(&alive));
        }
        let store = Self {
            pool,
            writer,
            backend,
            sealer,
            catalog_changes: Arc::default(),
            group: Arc::default(),
            _alive: alive,
        };
        store.check_key().await?;
        Ok(store)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    pub(crate) fn sealer(&self) -> &dyn Sealer {
        self.sealer.as_ref()
    }

    pub(crate) fn seal(&self, owner: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.sealer
            .seal(plaintext, owner.as_bytes())
            .map_err(|source| StoreError::Seal { owner: owner.to_owned(), source })
    }

    pub(crate) fn open(&self, owner: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.sealer
            .open(sealed, owner.as_bytes())
            .map_err(|source| StoreError::Seal { owner: owner.to_owned(), source })
    }

    pub(crate) async fn begin(&self) -> Result<WriteTx, StoreError> {
        self.writer.begin(self.backend).await
    }

    fn action_from_row(&self, row: &AnyRow) -> Result<ActionRecord, StoreError> {
        let id = ActionId(get(row, "id")?);
        let integration_id = IntegrationId(get(row, "integration_id")?);
        let name: String = get(row, "name")?;
        let body: String = get(row, "body")?;
        let sealed: Vec<u8> = get(row, "auth")?;
        let mut action: Action = parse_json("action", &body)?;
        let auth = self.open(&auth_owner(integration_id, &name), &sealed)?;
        action.auth = serde_json::from_slice(&auth)
            .map_err(|error| StoreError::Corrupt { what: "action auth", reason: error.to_string() })?;
        Ok(ActionRecord {
            id,
            integration_id,
            integration_name: get(row, "integration_name")?,
            archived: get::<i64>(row, "archived")? != 0,
            action,
            integration_version: get(row, "integration_version")?,
        })
    }

    async fn integration_records(&self, filter: Option<IntegrationId>) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.integration_records_as(filter, AuthReading::Open).await
    }

    async fn integration_records_as(
        &self,
        filter: Option<IntegrationId>,
        reading: AuthReading,
    ) -> Result<Vec<IntegrationRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, body, archived, version FROM integrations WHERE ($1 < 0 OR id = $1) ORDER BY name",
        )
        .bind(filter.map_or(-1, |id| id.0))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading integrations"))?;
        let actions = sqlx::query(
            "SELECT a.id, a.integration_id, a.name, a.body, a.auth, i.name AS integration_name, i.archived, \
             i.version AS integration_version FROM actions a JOIN integrations i ON i.id = a.integration_id \
             WHERE ($1 < 0 OR a.integration_id = $1) ORDER BY a.id",
        )
        .bind(filter.map_or(-1, |id| id.0))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading actions"))?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let id = IntegrationId(get(&row, "id")?);
            let mut integration: Integration = parse_json("integration", &get::<String>(&row, "body")?)?;
            integration.archived = get::<i64>(&row, "archived")? != 0;
            let mut action_ids = Vec::new();
            for action_row in actions.iter().filter(|a| get::<i64>(a, "integration_id").ok() == Some(id.0)) {
                let public: Action = parse_json("action", &get::<String>(action_row, "body")?)?;
                // Bodies written before they kept the redacted auth say `none`: those are opened (and redacted).
                let (action_id, action) = match reading {
                    AuthReading::Redacted if public.auth != AuthSettings::None => {
                        (ActionId(get(action_row, "id")?), public)
                    }
                    AuthReading::Redacted => {
                        let mut record = self.action_from_row(action_row)?;
                        record.action.auth = record.action.auth.with_secrets_replaced(REDACTED_AUTH);
                        (record.id, record.action)
                    }
                    AuthReading::Open => {
                        let record = self.action_from_row(action_row)?;
                        (record.id, record.action)
                    }
                };
                action_ids.push(action_id);
                integration.actions.push(action);
            }
            records.push(IntegrationRecord { id, integration, action_ids, version: get(&row, "version")? });
        }
        Ok(records)
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn apply_integration(&self, integration: &Integration, now: Millis) -> Result<AppliedDefinition, StoreError> {
        let mut tx = self.begin().await?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM integrations WHERE name = $1")
            .bind(&integration.name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("reading an integration"))?;
        let mut body = integration.clone();
        body.actions.clear();
        let body = to_json("integration", &body)?;
        let archived = i64::from(integration.archived);
        let integration_id = match existing {
            Some(id) => {
                sqlx::query("UPDATE integrations SET body = $1, archived = $2, updated_at = $3 WHERE id = $4")
                    .bind(&body)
                    .bind(archived)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db("updating an integration"))?;
                IntegrationId(id)
            }
            None => IntegrationId(
                sqlx::query_scalar(
                    "INSERT INTO integrations (name, body, archived, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4) RETURNING id",
                )
                .bind(&integration.name)
                .bind(&body)
                .bind(archived)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::db("creating an integration"))?,
            ),
        };
        let mut applied = AppliedDefinition {
            integration_id,
            created: existing.is_none(),
            actions_created: Vec::new(),
            actions_updated: Vec::new(),
            custom_fields: Vec::new(),
        };
        for action in &integration.actions {
            let (body, auth) = self.split_action(integration_id, action)?;
            let updated = sqlx::query(
                "UPDATE actions SET body = $1, auth = $2, updated_at = $3 WHERE integration_id = $4 AND name = $5",
            )
            .bind(&body)
            .bind(auth.clone())
            .bind(now)
            .bind(integration_id.0)
            .bind(&action.name)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("updating an action"))?;
            if updated.rows_affected() == 1 {
                applied.actions_updated.push(action.name.clone());
                continue;
            }
            sqlx::query(
                "INSERT INTO actions (integration_id, name, body, auth, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(integration_id.0)
            .bind(&action.name)
            .bind(&body)
            .bind(auth)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("creating an action"))?;
            applied.actions_created.push(action.name.clone());
        }
        for field in &integration.custom_fields {
            upsert_custom_field(&mut tx, field, now).await?;
            applied.custom_fields.push(field.name.clone());
        }
        self.commit_catalog_change(tx, "committing an integration").await?;
        Ok(applied)
    }

    async fn integrations(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.integration_records(None).await
    }

    async fn integrations_redacted(&self) -> Result<Vec<IntegrationRecord>, StoreError> {
        self.integration_records_as(None, AuthReading::Redacted).await
    }

    async fn integration(&self, id: IntegrationId) -> Result<Option<IntegrationRecord>, StoreError> {
        Ok(self.integration_records(Some(id)).await?.into_iter().next())
    }

    async fn set_integration_archived(&self, id: IntegrationId, archived: bool, now: Millis) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let result = sqlx::query("UPDATE integrations SET archived = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(archived))
            .bind(now)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("archiving an integration"))?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound { what: "integration", id: id.0 });
        }
        self.commit_catalog_change(tx, "committing an archival").await
    }

    async fn action(&self, id: ActionId) -> Result<Option<ActionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT a.id, a.integration_id, a.name, a.body, a.auth, i.name AS integration_name, i.archived, \
             i.version AS integration_version FROM actions a JOIN integrations i ON i.id = a.integration_id WHERE a.id = $1",
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("reading an action"))?;
        row.map(|row| self.action_from_row(&row)).transpose()
    }

    async fn find_action(&self, reference: &ActionRef) -> Result<Option<ActionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT a.id, a.integration_id, a.name, a.body, a.auth, i.name AS integration_name, i.archived, \
             i.version AS integration_version FROM actions a JOIN integrations i ON i.id = a.integration_id WHERE i.name = $1 AND a.name = $2",
        )
        .bind(&reference.integration)
        .bind(&reference.action)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("finding an action"))?;
        row.map(|row| self.action_from_row(&row)).transpose()
    }

    async fn update_integration_settings(
        &self,
        id: IntegrationId,
        integration: &Integration,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.guarded_integration_settings(id, integration, expected_version, now).await
    }

    async fn update_action_if(
        &self,
        id: ActionId,
        action: &Action,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.guarded_action_update(id, action, expected_version, now).await
    }

    async fn update_action(&self, id: ActionId, action: &Action, now: Millis) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let integration_id: Option<i64> = sqlx::query_scalar("SELECT integration_id FROM actions WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("reading an action"))?;
        let integration_id = IntegrationId(integration_id.ok_or(StoreError::NotFound { what: "action", id: id.0 })?);
        let (body, auth) = self.split_action(integration_id, action)?;
        sqlx::query("UPDATE actions SET name = $1, body = $2, auth = $3, updated_at = $4 WHERE id = $5")
            .bind(&action.name)
            .bind(&body)
            .bind(auth)
            .bind(now)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(|source| unique_violation(source, "action", &action.name, "updating an action"))?;
        self.commit_catalog_change(tx, "committing an action").await
    }

    async fn custom_fields(&self) -> Result<Vec<CustomField>, StoreError> {
        let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM custom_fields ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading custom fields"))?;
        bodies.iter().map(|body| parse_json("custom field", body)).collect()
    }

    async fn put_custom_field(&self, field: &CustomField, now: Millis) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        upsert_custom_field(&mut tx, field, now).await?;
        self.commit_catalog_change(tx, "committing a custom field").await
    }

    async fn put_system_parameter(&self, parameter: &SystemParameter, now: Millis) -> Result<(), StoreError> {
        let sealed = self.seal(&parameter_owner(&parameter.name), parameter.value.expose().as_bytes())?;
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO system_parameters (name, value, secret, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, secret = excluded.secret, \
             updated_at = excluded.updated_at",
        )
        .bind(&parameter.name)
        .bind(sealed)
        .bind(i64::from(parameter.secret))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("writing a system parameter"))?;
        self.commit_catalog_change(tx, "committing a system parameter").await
    }

    async fn system_parameters(&self) -> Result<Vec<SystemParameter>, StoreError> {
        let rows = sqlx::query("SELECT name, value, secret FROM system_parameters ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading system parameters"))?;
        rows.iter()
            .map(|row| {
                let name: String = get(row, "name")?;
                let value = self.open(&parameter_owner(&name), &get::<Vec<u8>>(row, "value")?)?;
                let value = String::from_utf8(value).map_err(|_| StoreError::Corrupt {
                    what: "system parameter",
                    reason: format!("`{name}` is not UTF-8"),
                })?;
                Ok(SystemParameter { name, value: SecretValue::new(value), secret: get::<i64>(row, "secret")? != 0 })
            })
            .collect()
    }

    async fn create_user(&self, user: &NewUser, token_hash: &str, now: Millis) -> Result<User, StoreError> {
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (name, email, roles, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&user.name)
        .bind(&user.email)
        .bind(to_json("user roles", &user.roles)?)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|source| unique_violation(source, "user", &user.email, "creating a user"))?;
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("creating an API token"))?;
        tx.commit().await.map_err(StoreError::db("committing a user"))?;
        Ok(User { id: UserId(id), name: user.name.clone(), email: user.email.clone(), roles: user.roles.clone() })
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT id, name, email, roles FROM users ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading users"))?;
        rows.iter().map(user_from_row).collect()
    }

    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.email, u.roles FROM users u JOIN api_tokens t ON t.user_id = u.id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::db("reading a user by token"))?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn create_runbook(&self, runbook: &NewRunbook<'_>, now: Millis) -> Result<WrittenRunbook, StoreError> {
        let workspace = workspace_of_definition(runbook.definition)?;
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runbooks (name, workspace, state, version, definition_version, task_count, created_at, \
             updated_at) VALUES ($1, $2, $3, 1, 1, $4, $5, $5) RETURNING id",
        )
        .bind(runbook.name)
        .bind(workspace)
        .bind(runbook.state)
        .bind(runbook.tasks.len() as i64)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db("creating a runbook"))?;
        sqlx::query("INSERT INTO runbook_definitions (runbook_id, definition) VALUES ($1, $2)")
            .bind(id)
            .bind(runbook.definition)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("storing a runbook's definition"))?;
        self.insert_tasks(&mut tx, RunbookId(id), runbook.tasks, 1).await?;
        let event_ids = crate::event_log::append_runbook_events(&mut tx, RunbookId(id), runbook.events, now).await?;
        tx.commit().await.map_err(StoreError::db("committing a runbook"))?;
        Ok(WrittenRunbook { id: RunbookId(id), version: 1, event_ids })
    }

    async fn replace_runbook(
        &self,
        id: RunbookId,
        expected_version: i64,
        runbook: &ReplacedRunbook<'_>,
        now: Millis,
    ) -> Result<WrittenRunbook, StoreError> {
        let workspace = workspace_of_definition(runbook.definition)?;
        let mut tx = self.begin().await?;
        let result = sqlx::query(
            "UPDATE runbooks SET name = $1, workspace = $2, state = $3, version = version + 1, \
             definition_version = version + 1, task_count = $7, updated_at = $4 WHERE id = $5 AND version = $6",
        )
        .bind(runbook.name)
        .bind(workspace)
        .bind(runbook.state)
        .bind(now)
        .bind(id.0)
        .bind(expected_version)
        .bind(runbook.tasks.len() as i64)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("replacing a runbook"))?;
        if result.rows_affected() != 1 {
            return Err(StoreError::VersionConflict { runbook: id, expected: expected_version });
        }
        sqlx::query("UPDATE runbook_definitions SET definition = $1 WHERE runbook_id = $2")
            .bind(runbook.definition)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("replacing a runbook's definition"))?;
        sqlx::query("DELETE FROM runbook_tasks WHERE runbook_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("replacing task states"))?;
        self.insert_tasks(&mut tx, id, runbook.tasks, expected_version + 1).await?;
        let event_ids = crate::event_log::append_runbook_events(&mut tx, id, runbook.events, now).await?;
        tx.commit().await.map_err(StoreError::db("committing a replaced runbook"))?;
        Ok(WrittenRunbook { id, version: expected_version + 1, event_ids })
    }

    async fn runbook(&self, id: RunbookId) -> Result<Option<RunbookRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT -1 AS position, r.name, d.definition, r.state, r.version FROM runbooks r \
             JOIN runbook_definitions d ON d.runbook_id = r.id WHERE r.id = $1 \
             UNION ALL SELECT position, NULL, NULL, state, NULL FROM runbook_tasks WHERE runbook_id = $1 \
             ORDER BY position",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading a runbook"))?;
        runbook_from_rows(id, &rows)
    }

    async fn put_event_integration(
        &self,
        definition: &EventIntegration,
        now: Millis,
    ) -> Result<(EventIntegrationRecord, bool), StoreError> {
        self.upsert_event_integration(definition, None, now).await
    }

    async fn replace_event_integration(
        &self,
        id: EventIntegrationId,
        definition: &EventIntegration,
        expected_version: Option<i64>,
        now: Millis,
    ) -> Result<EventIntegrationRecord, StoreError> {
        Ok(self.upsert_event_integration(definition, Some((id, expected_version)), now).await?.0)
    }

    async fn event_integrations(&self, open: bool) -> Result<Vec<EventIntegrationRecord>, StoreError> {
        self.select_event_integrations(open).await
    }

    async fn event_integration(
        &self,
        id: EventIntegrationId,
        open: bool,
    ) -> Result<Option<EventIntegrationRecord>, StoreError> {
        self.select_event_integration(id, open).await
    }

    async fn delete_event_integration(&self, id: EventIntegrationId, now: Millis) -> Result<bool, StoreError> {
        self.remove_event_integration(id, now).await
    }

    async fn route_events(
        &self,
        id: EventIntegrationId,
        from: i64,
        to: i64,
        deliveries: &[NewDelivery],
        now: Millis,
    ) -> Result<bool, StoreError> {
        self.insert_routed(id, from, to, deliveries, now).await
    }

    async fn claim_deliveries(&self, request: &ClaimRequest) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.update_claimed_deliveries(request).await
    }

    async fn record_delivery(&self, update: &DeliveryUpdate, now: Millis) -> Result<bool, StoreError> {
        self.update_delivery(update, now).await
    }

    async fn renew_delivery_lease(
        &self,
        owner: &str,
        event_id: i64,
        id: EventIntegrationId,
        until: Millis,
    ) -> Result<(), StoreError> {
        self.update_delivery_lease(owner, event_id, id, until).await
    }

    async fn runbook_deliveries(&self, runbook: RunbookId) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.select_runbook_deliveries(runbook).await
    }

    async fn event_integration_deliveries(
        &self,
        id: EventIntegrationId,
        limit: u32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.select_event_integration_deliveries(id, limit).await
    }

    async fn append_events(&self, events: &[(RunbookId, String)], now: Millis) -> Result<Vec<i64>, StoreError> {
        self.insert_events(events, now).await
    }

    async fn events_after(
        &self,
        after: i64,
        runbook: Option<RunbookId>,
        limit: u32,
    ) -> Result<Vec<crate::StoredEvent>, StoreError> {
        self.select_events_after(after, runbook, limit).await
    }

    async fn event_bounds(&self) -> Result<crate::EventBounds, StoreError> {
        self.select_event_bounds().await
    }

    async fn prune_events(&self, before: Millis) -> Result<u64, StoreError> {
        self.delete_events_before(before).await
    }

    async fn runbook_page(&self, query: &crate::RunbookQuery) -> Result<crate::RunbookPage, StoreError> {
        self.select_runbook_page(query).await
    }

    async fn runbooks_naming(
        &self,
        reference: crate::TaskReference<'_>,
    ) -> Result<Vec<crate::NamingRunbook>, StoreError> {
        self.select_runbooks_naming(reference).await
    }

    async fn runbooks(&self) -> Result<Vec<RunbookSummary>, StoreError> {
        let rows = sqlx::query("SELECT id, name, version FROM runbooks ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading runbooks"))?;
        rows.iter()
            .map(|row| {
                Ok(RunbookSummary {
                    id: RunbookId(get(row, "id")?),
                    name: get(row, "name")?,
                    version: get(row, "version")?,
                })
            })
            .collect()
    }

    async fn commit(&self, commit: Commit) -> Result<(Vec<FireId>, Vec<TimerId>), StoreError> {
        let commit = Arc::new(commit);
        if let Some(committed) = self.commit_grouped(&commit).await? {
            return Ok((committed.fire_ids, committed.timer_ids));
        }
        let mut conflicts = 0;
        loop {
            let mut tx = self.begin().await?;
            let written = match self.write_commit(&mut tx, &commit).await {
                Ok(committed) => tx.commit().await.map_err(StoreError::db("committing")).map(|()| committed),
                Err(error) => Err(error),
            };
            match written {
                Err(error) if conflicts < CONFLICT_RETRIES && rolled_back_by_conflict(&error) => conflicts += 1,
                written => return written.map(|committed| (committed.fire_ids, committed.timer_ids)),
            }
        }
    }

    async fn commit_runbook(
        &self,
        commit: Commit,
        rebuild: &mut RebuildCommit<'_>,
    ) -> Result<Option<Committed>, StoreError> {
        let Some(id) = commit.runbook.as_ref().map(|write| write.id) else {
            return Err(StoreError::Corrupt {
                what: "commit",
                reason: "a runbook commit writes no runbook".to_owned(),
            });
        };
        let commit = Arc::new(commit);
        if let Some(committed) = self.commit_grouped(&commit).await? {
            return Ok(Some(committed));
        }
        let mut conflicts = 0;
        loop {
            match self.commit_runbook_alone(id, &commit, rebuild).await {
                Err(error) if conflicts < CONFLICT_RETRIES && rolled_back_by_conflict(&error) => conflicts += 1,
                written => return written,
            }
        }
    }

    async fn runbook_if_changed(&self, id: RunbookId, known_version: i64) -> Result<Option<RunbookRecord>, StoreError> {
        // One statement, so the run-level state and the task rows come from one snapshot; the task rows are found
        // by their version, not by walking every task of the runbook.
        let tasks_by_version = match self.backend {
            Backend::Sqlite => "runbook_tasks AS t INDEXED BY runbook_tasks_version",
            Backend::Postgres => "runbook_tasks AS t",
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT -1 AS position, name, {DEFINITION_IF_WRITTEN_AFTER} AS definition, \
             state, version FROM runbooks WHERE id = $1 AND version <> $2 \
             UNION ALL SELECT t.position, NULL, NULL, t.state, NULL FROM {tasks_by_version} \
             WHERE t.runbook_id = $1 AND t.version > $2 \
             AND EXISTS (SELECT 1 FROM runbooks r WHERE r.id = $1 AND r.version > $2) ORDER BY position"
        )))
        .bind(id.0)
        .bind(known_version)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading a runbook's changes"))?;
        match runbook_from_rows(id, &rows)? {
            Some(record) if record.version < known_version => self.runbook(id).await,
            changed => Ok(changed),
        }
    }

    fn catalog_changes_here(&self) -> u64 {
        self.catalog_changes.load(std::sync::atomic::Ordering::Acquire)
    }

    async fn catalog_revision(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT revision FROM catalog_revision WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::db("reading the catalog revision"))
    }

    async fn claim_fires(&self, request: &ClaimRequest) -> Result<Vec<FireRecord>, StoreError> {
        let rows = self.claim_rows("fires", "status <> 'done' AND ", FIRE_COLUMNS, request, "claiming fires").await?;
        let mut fires = rows.iter().map(fire_from_row).collect::<Result<Vec<_>, _>>()?;
        fires.sort_by_key(|fire| (fire.due_at, fire.id));
        Ok(fires)
    }

    async fn renew_fire_leases(
        &self,
        owner: &str,
        ids: &[FireId],
        lease_until: Millis,
    ) -> Result<Vec<FireId>, StoreError> {
        let mut renewed = Vec::with_capacity(ids.len());
        let mut tx = self.begin().await?;
        for id in ids {
            let result = sqlx::query(
                "UPDATE fires SET lease_until = $1 WHERE lease_owner = $2 AND status <> 'done' AND id = $3",
            )
            .bind(lease_until)
            .bind(owner)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("renewing a lease"))?;
            if result.rows_affected() == 1 {
                renewed.push(*id);
            }
        }
        tx.commit().await.map_err(StoreError::db("committing lease renewals"))?;
        Ok(renewed)
    }

    async fn fire(&self, id: FireId) -> Result<Option<FireRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {FIRE_COLUMNS} FROM fires WHERE id = $1")))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("reading a fire"))?;
        row.as_ref().map(fire_from_row).transpose()
    }

    async fn task_fires(&self, runbook: RunbookId, task: &str) -> Result<Vec<FireRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {FIRE_COLUMNS} FROM fires WHERE runbook_id = $1 AND task_id = $2 ORDER BY fire_number"
        )))
        .bind(runbook.0)
        .bind(task)
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::db("reading a task's fires"))?;
        rows.iter().map(fire_from_row).collect()
    }

    async fn actions_log(&self, fire: FireId) -> Result<Vec<LogRecord>, StoreError> {
        let rows = sqlx::query("SELECT record, created_at FROM actions_log WHERE fire_id = $1 ORDER BY id")
            .bind(fire.0)
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading the actions log"))?;
        rows.iter()
            .map(|row| {
                Ok(LogRecord { fire_id: fire, record: get(row, "record")?, created_at: get(row, "created_at")? })
            })
            .collect()
    }

    async fn claim_timers(&self, request: &ClaimRequest) -> Result<Vec<TimerRecord>, StoreError> {
        let rows =
            self.claim_rows("timers", "", "id, runbook_id, task_id, kind, due_at", request, "claiming timers").await?;
        let mut timers = rows
            .iter()
            .map(|row| {
                Ok(TimerRecord {
                    id: TimerId(get(row, "id")?),
                    runbook_id: RunbookId(get(row, "runbook_id")?),
                    task_id: get(row, "task_id")?,
                    kind: get(row, "kind")?,
                    due_at: get(row, "due_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        timers.sort_by_key(|timer| (timer.due_at, timer.id));
        Ok(timers)
    }
}

impl SqlStore {
    /// Inserts every task's state of a runbook in one statement: the states travel as one JSON array.
    async fn insert_tasks(
        &self,
        tx: &mut WriteTx,
        id: RunbookId,
        tasks: &[String],
        version: i64,
    ) -> Result<(), StoreError> {
        if tasks.is_empty() {
            return Ok(());
        }
        let mut array = String::with_capacity(tasks.iter().map(|task| task.len() + 1).sum::<usize>() + 2);
        array.push('[');
        for (n, task) in tasks.iter().enumerate() {
            if n > 0 {
                array.push(',');
            }
            array.push_str(task);
        }
        array.push(']');
        let sql = match self.backend {
            Backend::Sqlite => {
                "INSERT INTO runbook_tasks (runbook_id, position, state, version) \
                 SELECT $1, key, value, $2 FROM json_each($3)"
            }
            Backend::Postgres => {
                "INSERT INTO runbook_tasks (runbook_id, position, state, version) \
                 SELECT $1, t.n - 1, t.v::text, $2 FROM json_array_elements($3::json) WITH ORDINALITY AS t(v, n)"
            }
        };
        let result = sqlx::query(sql)
            .bind(id.0)
            .bind(version)
            .bind(array)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db("writing task states"))?;
        if result.rows_affected() != tasks.len() as u64 {
            return Err(StoreError::Corrupt {
                what: "runbook",
                reason: format!("{} task states written of {}", result.rows_affected(), tasks.len()),
            });
        }
        Ok(())
    }

    /// Commits a change of definitions or parameters and tells caches (see [`Store::catalog_revision`] and
    /// [`Store::catalog_changes_here`]). The local count rises after the commit, so that a cache reloading on seeing
    /// it reads the change.
    pub(crate) async fn commit_catalog_change(
        &self,
        mut tx: WriteTx,
        operation: &'static str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE catalog_revision SET revision = revision + 1 WHERE id = 1")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("bumping the catalog revision"))?;
        tx.commit().await.map_err(StoreError::db(operation))?;
        self.catalog_changes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(())
    }

    /// Leases up to `request.limit` rows of `table` that are due (`due_at <= now`, unleased or with an expired lease,
    /// and matching `pending`, a condition ending in `AND ` or empty) to `request.owner`, in one statement; on
    /// PostgreSQL rows other engines are claiming are skipped, not waited for. Returns the `returning` columns.
    async fn claim_rows(
        &self,
        table: &'static str,
        pending: &'static str,
        returning: &'static str,
        request: &ClaimRequest,
        operation: &'static str,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let sql = format!(
            "UPDATE {table} SET lease_owner = $1, lease_until = $2 WHERE id IN (SELECT id FROM {table} \
             WHERE {pending}due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
             ORDER BY due_at, id LIMIT $4 {}) RETURNING {returning}",
            self.backend.claim_lock_clause()
        );
        let mut tx = self.begin().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&request.owner)
            .bind(request.lease_until)
            .bind(request.now)
            .bind(request.limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db(operation))?;
        tx.commit().await.map_err(StoreError::db("committing a claim"))?;
        Ok(rows)
    }

    /// Splits an action into its public body (auth reduced to its type) and its sealed auth settings.
    pub(crate) fn split_action(
        &self,
        integration: IntegrationId,
        action: &Action,
    ) -> Result<(String, Vec<u8>), StoreError> {
        let mut public = action.clone();
        // The auth in clear with its secrets replaced, so that lists need not open the sealed settings.
        public.auth = action.auth.with_secrets_replaced(REDACTED_AUTH);
        let auth = serde_json::to_vec(&action.auth)
            .map_err(|error| StoreError::Corrupt { what: "action auth", reason: error.to_string() })?;
        Ok((to_json("action", &public)?, self.seal(&auth_owner(integration, &action.name), &auth)?))
    }
}

impl SqlStore {
    /// Writes a runbook commit in its own transaction; on a stale version, once more under the runbook's lock with
    /// what `rebuild` makes of the stored state (see [`Store::commit_runbook`]).
    async fn commit_runbook_alone(
        &self,
        id: RunbookId,
        commit: &Commit,
        rebuild: &mut RebuildCommit<'_>,
    ) -> Result<Option<Committed>, StoreError> {
        let mut tx = self.begin().await?;
        match self.write_commit(&mut tx, commit).await {
            Ok(committed) => {
                tx.commit().await.map_err(StoreError::db("committing"))?;
                return Ok(Some(committed));
            }
            Err(StoreError::VersionConflict { .. }) => {
                tx.rollback().await.map_err(StoreError::db("rolling back a stale commit"))?;
            }
            Err(error) => return Err(error),
        }
        // Another writer moved the runbook: read it again under its lock and write what `rebuild` makes of it. Nobody
        // can move it before this transaction ends, so this second write cannot conflict.
        let mut tx = self.begin().await?;
        let (since, positions) = commit
            .runbook
            .as_ref()
            .map(|write| (write.expected_version, write.tasks.iter().map(|task| task.position).collect::<Vec<_>>()))
            .unwrap_or_default();
        let record = lock_runbook(&mut tx, self.backend(), id, since, &positions).await?;
        let Some(commit) = rebuild(&record) else {
            tx.rollback().await.map_err(StoreError::db("rolling back a declined commit"))?;
            return Ok(None);
        };
        let committed = self.write_commit(&mut tx, &commit).await?;
        tx.commit().await.map_err(StoreError::db("committing"))?;
        Ok(Some(committed))
    }
}

/// How many times a commit that PostgreSQL rolled back to break a deadlock or a serialization conflict is written
/// again before its error is returned.
const CONFLICT_RETRIES: u32 = 3;

/// Whether PostgreSQL rolled the transaction back to break a deadlock or a serialization conflict: nothing of it
/// landed, and writing it again is safe ([`Transience::RolledBackByConflict`], classified in error.rs).
fn rolled_back_by_conflict(error: &StoreError) -> bool {
    error.transience() == Some(Transience::RolledBackByConflict)
}

async fn upsert_custom_field(tx: &mut WriteTx, field: &CustomField, now: Millis) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO custom_fields (name, body, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
    )
    .bind(&field.name)
    .bind(to_json("custom field", field)?)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("writing a custom field"))?;
    Ok(())
}

/// What secret-bearing auth values read as in the public body of an action.
const REDACTED_AUTH: &str = "[REDACTED]";

/// Whether reading actions opens their sealed auth settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthReading {
    /// Opened: the settings the action fires with.
    Open,
    /// From the public body, secrets `[REDACTED]`, nothing opened.
    Redacted,
}

pub(crate) fn auth_owner(integration: IntegrationId, action: &str) -> String {
    format!("action-auth:{integration}:{action}")
}

pub(crate) fn parameter_owner(name: &str) -> String {
    format!("system-parameter:{name}")
}

/// The definition document of runbook `$1` when it was written after version `$2` (a subquery evaluated only then),
/// else NULL: for reads of what changed after a version.
pub(crate) const DEFINITION_IF_WRITTEN_AFTER: &str = "CASE WHEN definition_version > $2 THEN \
     (SELECT definition FROM runbook_definitions WHERE runbook_id = $1) END";

/// The `workspace` of a runbook definition document (`{"runbook": {"workspace": …}, …}`; `None` when absent or null),
/// read here with one pass of serde_json, which skips the rest of the document without building it: the database's
/// JSON functions parse the whole document (megabytes for a runbook of 100,000 tasks) into their own form first.
fn workspace_of_definition(definition: &str) -> Result<Option<String>, StoreError> {
    #[derive(serde::Deserialize)]
    struct Document {
        #[serde(default)]
        runbook: Option<RunbookPart>,
    }
    #[derive(serde::Deserialize)]
    struct RunbookPart {
        #[serde(default)]
        workspace: Option<String>,
    }
    let document: Document = serde_json::from_str(definition)
        .map_err(|error| StoreError::Corrupt { what: "runbook definition", reason: error.to_string() })?;
    Ok(document.runbook.and_then(|runbook| runbook.workspace))
}

/// A runbook from the rows of a read: first its own (position -1), then its tasks by position; `None` without rows.
fn runbook_from_rows(id: RunbookId, rows: &[AnyRow]) -> Result<Option<RunbookRecord>, StoreError> {
    let Some((first, tasks)) = rows.split_first() else { return Ok(None) };
    if get::<i64>(first, "position")? != -1 {
        return Err(StoreError::Corrupt { what: "runbook", reason: format!("task rows of runbook {id} without it") });
    }
    Ok(Some(RunbookRecord {
        id,
        name: get(first, "name")?,
        definition: get(first, "definition")?,
        state: get(first, "state")?,
        tasks: tasks.iter().map(task_row).collect::<Result<_, _>>()?,
        version: get(first, "version")?,
    }))
}

pub(crate) fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(get(row, "id")?),
        name: get(row, "name")?,
        email: get(row, "email")?,
        roles: parse_json("user roles", &get::<String>(row, "roles")?)?,
    })
}

fn fire_from_row(row: &AnyRow) -> Result<FireRecord, StoreError> {
    let status: String = get(row, "status")?;
    Ok(FireRecord {
        id: FireId(get(row, "id")?),
        runbook_id: RunbookId(get(row, "runbook_id")?),
        task_id: get(row, "task_id")?,
        kind: FireKind::from_stored(get(row, "fire_number")?)?,
        idempotency_key: get(row, "idempotency_key")?,
        status: FireStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt { what: "fire", reason: format!("unknown status `{status}`") })?,
        state: get(row, "state")?,
        due_at: get(row, "due_at")?,
        lease_owner: get(row, "lease_owner")?,
        lease_until: get(row, "lease_until")?,
        callback_token_hash: get(row, "callback_token_hash")?,
    })
}

pub(crate) fn get<T>(row: &AnyRow, column: &'static str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(column).map_err(StoreError::db(column))
}

/// `value` as JSON text for a column; an error (never an empty text) if it cannot be written.
pub(crate) fn to_json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Encode { what, source })
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt { what, reason: error.to_string() })
}

pub(crate) fn unique_violation(
    source: sqlx::Error,
    what: &'static str,
    name: &str,
    operation: &'static str,
) -> StoreError {
    if let sqlx::Error::Database(error) = &source
        && error.is_unique_violation()
    {
        return StoreError::Duplicate { what, name: name.to_owned() };
    }
    StoreError::Database { operation, source }
}

fn without_password(url: &str) -> String {
    match url::Url::from_str(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// How often the background checkpoint runs on SQLite.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// WAL pages after which a commit checkpoints by itself, should the background checkpoint fall behind.
const CHECKPOINT_BACKSTOP_PAGES: u32 = 8192;

/// Copies the write-ahead log into the database file every [`CHECKPOINT_EVERY`], on a reading connection, so that
/// commits never wait for a checkpoint's fsyncs. `PASSIVE`: it copies what no reader still needs and never blocks
/// anyone. Ends when the store is dropped.
fn checkpoint_in_background(readers: AnyPool, alive: std::sync::Weak<()>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 {
                break;
            }
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&readers).await {
                tracing::debug!(%error, "a background checkpoint failed; the next one retries");
            }
        }
    });
}

/// The wall clock in unix milliseconds, for bookkeeping columns the engine's clock does not decide.
pub(crate) fn wall_clock_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as Millis)
        .unwrap_or_default()
}
