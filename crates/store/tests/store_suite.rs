//! The store test suite, run against SQLite and PostgreSQL alike.

use cutover_integrations_auth::{
    AuthConfig, AuthError, Authenticator, AuthenticatorSettings, Cipher, CredentialKey, CredentialStore, Key, KeyId,
    KeyRing, OAuthToken, StoredCredential, SystemClock,
};
use cutover_integrations_model::{
    Action, ActionRef, ActionSettings, AuthSettings, CustomField, CustomFieldType, ExecutionMode, HttpMethod,
    Integration, IntegrationKind, RequestSpec, Role, SecretValue, SystemParameter, Trigger, Visibility,
};
use cutover_integrations_runbook::FireNumber;
use cutover_integrations_store::*;
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

fn cipher() -> Arc<Cipher> {
    Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::from_bytes([7u8; 32]))))
}

/// A database for one test; the temporary directory lives as long as the store.
struct Db {
    store: SqlStore,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

async fn sqlite() -> Option<Db> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = fresh_sqlite_url(dir.path());
    let store = SqlStore::connect(SqlStoreOptions::new(&url), cipher() as Arc<dyn Sealer>).await.expect("sqlite store");
    Some(Db { store, url, _dir: Some(dir) })
}

async fn postgres(test: &str) -> Option<Db> {
    let url = fresh_postgres_url(test).await?;
    let store =
        SqlStore::connect(SqlStoreOptions::new(&url), cipher() as Arc<dyn Sealer>).await.expect("postgres store");
    Some(Db { store, url, _dir: None })
}

/// Generates one test per case and backend.
macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let db = super::sqlite().await.expect("sqlite is always available");
                super::$case(db).await;
            })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(db) = super::postgres(stringify!($case)).await {
                    super::$case(db).await;
                }
            })*
        }
    };
}

suite!(
    applies_integrations_and_seals_auth,
    seals_system_parameters,
    users_are_found_by_token_hash_only,
    commit_is_all_or_nothing,
    claims_are_exclusive_and_leases_expire,
    fire_guards_protect_updates,
    log_records_follow_their_fire,
    timers_are_claimed_and_deleted,
    credentials_and_oauth_states,
    concurrent_claims_never_overlap,
    a_stale_runbook_commit_is_rebuilt_under_lock,
    log_records_may_name_new_fires,
    catalog_changes_raise_the_revision,
    concurrent_runbook_commits_all_land,
    a_cancelled_commit_leaves_all_or_nothing,
    large_commits_are_written_whole_or_not_at_all,
    a_database_refuses_keys_that_did_not_seal_it,
    resealing_moves_every_secret_to_the_new_key,
    listing_integrations_opens_no_secret,
    task_rows_are_written_and_read_as_they_change,
    runbooks_naming_an_action_are_found_in_their_definitions,
);

const SECRET: &str = "xoxb-secret-token-4242";

fn slack() -> Integration {
    Integration {
        name: "Slack".into(),
        integration_kind: IntegrationKind::Custom,
        image_url: None,
        archived: false,
        custom_fields: vec![CustomField {
            name: "Slack Channel".into(),
            field_type: CustomFieldType::Text,
            options: vec![],
            required: true,
            transient: true,
            applies_to: Default::default(),
            restrict_to: vec!["Post".into()],
            visibility: Visibility::Global,
        }],
        actions: vec![action("Post", SECRET)],
    }
}

fn action(name: &str, token: &str) -> Action {
    Action {
        name: name.into(),
        image_url: None,
        trigger: Trigger::TaskStart,
        visibility: Visibility::Global,
        settings: ActionSettings { finish_task_on_success: true, ..Default::default() },
        auth: AuthSettings::Token { token_type: "Bearer".into(), token: SecretValue::new(token) },
        request: Some(RequestSpec {
            method: HttpMethod::Post,
            url: "https://slack.com/api/chat.postMessage".into(),
            headers: Default::default(),
            payload: Some("{}".into()),
            params: None,
            execution_mode: ExecutionMode::FireAndForget,
            timeout_seconds: Some(30),
        }),
        response: None,
        polling: None,
        callback: None,
        allowed_hosts: Vec::new(),
        redirects: Default::default(),
    }
}

/// Every byte the database holds that could contain a secret: the SQLite file and its WAL, or every text and
/// byte column dumped from PostgreSQL.
async fn database_bytes(db: &Db) -> Vec<u8> {
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).unwrap_or_default();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        return bytes;
    }
    let mut bytes = Vec::new();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    for (table, columns) in [
        ("actions", "name || body || encode(auth, 'escape')"),
        ("integrations", "body"),
        ("system_parameters", "name || encode(value, 'escape')"),
        ("credentials", "key || encode(value, 'escape')"),
        ("oauth_states", "state_hash || coalesce(encode(value, 'escape'), '')"),
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {columns} FROM {table}")))
            .fetch_all(&pool)
            .await
            .expect("dump");
        for row in rows {
            bytes.extend(row.into_bytes());
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

async fn applies_integrations_and_seals_auth(db: Db) {
    let store = &db.store;
    let applied = store.apply_integration(&slack(), 1).await.expect("apply");
    assert!(applied.created);
    assert_eq!(applied.actions_created, vec!["Post"]);
    assert_eq!(applied.custom_fields, vec!["Slack Channel"]);

    let mut changed = slack();
    changed.actions.push(action("Update", "other-secret-99"));
    let applied = store.apply_integration(&changed, 2).await.expect("apply again");
    assert!(!applied.created);
    assert_eq!(applied.actions_updated, vec!["Post"]);
    assert_eq!(applied.actions_created, vec!["Update"]);

    let records = store.integrations().await.expect("list");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].integration, changed, "what is read back is what was applied, secrets opened");
    let found = store
        .find_action(&ActionRef { integration: "Slack".into(), action: "Post".into() })
        .await
        .expect("find")
        .expect("exists");
    assert_eq!(found.action.auth, AuthSettings::Token { token_type: "Bearer".into(), token: SecretValue::new(SECRET) });
    assert_eq!(store.action(found.id).await.expect("read").map(|a| a.action.name), Some("Post".to_owned()));

    store.set_integration_archived(records[0].id, true, 3).await.expect("archive");
    assert!(store.integration(records[0].id).await.expect("read").expect("exists").integration.archived);
    assert!(matches!(
        store.set_integration_archived(IntegrationId(999), true, 3).await,
        Err(StoreError::NotFound { what: "integration", id: 999 })
    ));

    let mut renamed = found.action.clone();
    renamed.name = "Post message".into();
    store.update_action(found.id, &renamed, 4).await.expect("update");
    assert_eq!(store.action(found.id).await.expect("read").expect("exists").action, renamed);

    assert_eq!(store.custom_fields().await.expect("fields")[0].name, "Slack Channel");
    let bytes = database_bytes(&db).await;
    assert!(!contains(&bytes, SECRET), "the token is not in the database in clear");
    assert!(!contains(&bytes, "other-secret-99"));
}

async fn seals_system_parameters(db: Db) {
    let store = &db.store;
    for (name, value, secret) in [("base_url", "https://example.com", false), ("api_token", "s3cr3t-param", true)] {
        let parameter = SystemParameter { name: name.into(), value: SecretValue::new(value), secret };
        store.put_system_parameter(&parameter, 1).await.expect("put");
    }
    let replaced =
        SystemParameter { name: "api_token".into(), value: SecretValue::new("s3cr3t-param-2"), secret: true };
    store.put_system_parameter(&replaced, 2).await.expect("replace");
    let parameters = store.system_parameters().await.expect("list");
    let read: Vec<_> = parameters.iter().map(|p| (p.name.as_str(), p.value.expose(), p.secret)).collect();
    assert_eq!(read, vec![("api_token", "s3cr3t-param-2", true), ("base_url", "https://example.com", false)]);
    assert!(!contains(&database_bytes(&db).await, "s3cr3t-param"));
}

async fn users_are_found_by_token_hash_only(db: Db) {
    let store = &db.store;
    let user =
        NewUser { name: "Ada".into(), email: "ada@example.com".into(), roles: vec![Role::Operator, Role::Viewer] };
    let created = store.create_user(&user, "hash-1", 1).await.expect("create");
    assert_eq!(store.user_by_token_hash("hash-1").await.expect("lookup"), Some(created.clone()));
    assert_eq!(store.user_by_token_hash("hash-2").await.expect("lookup"), None);
    let duplicate = store.create_user(&user, "hash-3", 2).await;
    assert!(matches!(duplicate, Err(StoreError::Duplicate { what: "user", .. })), "{duplicate:?}");
    assert_eq!(store.user_by_token_hash("hash-3").await.expect("lookup"), None, "a failed create leaves no token");
    assert_eq!(store.users().await.expect("users"), vec![created]);
}

fn new_fire(task: &str, number: i64, due_at: Millis) -> NewFire {
    NewFire {
        task_id: task.into(),
        runbook_id: None,
        kind: FireKind::Action(FireNumber::new(u32::try_from(number).expect("a u32")).expect("a fire number")),
        idempotency_key: format!("key-{task}-{number}"),
        status: FireStatus::Due,
        state: "{}".into(),
        due_at,
        lease: None,
        callback_token_hash: None,
    }
}

async fn runbook(store: &SqlStore) -> RunbookId {
    let tasks = [r#"{"t":0}"#, r#"{"t":1}"#, r#"{"t":2}"#].map(String::from);
    let new = NewRunbook {
        name: "Release 42",
        definition: r#"{"name":"Release 42"}"#,
        state: r#"{"v":1}"#,
        tasks: &tasks,
        events: &[],
    };
    store.create_runbook(&new, 1).await.expect("runbook").id
}

async fn commit_is_all_or_nothing(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let write =
        |version, state: &str| RunbookWrite { id, expected_version: version, state: state.into(), tasks: Vec::new() };
    let commit = Commit {
        runbook: Some(write(1, r#"{"v":2}"#)),
        new_fires: vec![new_fire("announce", 1, 10)],
        new_timers: vec![NewTimer {
            runbook_id: id,
            task_id: Some("deploy".into()),
            kind: "fixed_start".into(),
            due_at: 50,
        }],
        now: 5,
        ..Default::default()
    };
    let (fires, timers) = store.commit(commit).await.expect("commit");
    assert_eq!((fires.len(), timers.len()), (1, 1));
    let record = store.runbook(id).await.expect("read").expect("exists");
    assert_eq!((record.version, record.state.as_str()), (2, r#"{"v":2}"#));

    // A stale version fails and writes nothing: not the fire, not the state.
    let stale = Commit {
        runbook: Some(write(1, r#"{"v":"stale"}"#)),
        new_fires: vec![new_fire("deploy", 1, 10)],
        now: 6,
        ..Default::default()
    };
    assert!(matches!(store.commit(stale).await, Err(StoreError::VersionConflict { expected: 1, .. })));
    assert!(store.task_fires(id, "deploy").await.expect("fires").is_empty());
    assert_eq!(store.runbook(id).await.expect("read").expect("exists").state, r#"{"v":2}"#);

    // A failure late in the commit (a duplicate idempotency key) undoes the runbook write before it.
    let duplicate = Commit {
        runbook: Some(write(2, r#"{"v":3}"#)),
        new_fires: vec![new_fire("announce", 1, 10)],
        now: 7,
        ..Default::default()
    };
    assert!(matches!(store.commit(duplicate).await, Err(StoreError::Duplicate { what: "fire", .. })));
    assert_eq!(store.runbook(id).await.expect("read").expect("exists").version, 2);
    assert_eq!(
        store.runbooks().await.expect("list"),
        vec![RunbookSummary { id, name: "Release 42".into(), version: 2 }]
    );
}

async fn claims_are_exclusive_and_leases_expire(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let mut leased = new_fire("c", 1, 0);
    leased.lease = Some(("engine-a".into(), 1_000));
    let commit = Commit {
        runbook: None,
        new_fires: vec![
            NewFire { runbook_id: Some(id), ..new_fire("a", 1, 100) },
            NewFire { runbook_id: Some(id), ..new_fire("b", 1, 200) },
            NewFire { runbook_id: Some(id), ..leased },
        ],
        now: 1,
        ..Default::default()
    };
    store.commit(commit).await.expect("commit");
    let claim = |owner: &str, now, limit| ClaimRequest { owner: owner.into(), now, lease_until: now + 500, limit };

    assert!(store.claim_fires(&claim("engine-a", 50, 10)).await.expect("claim").is_empty(), "nothing due yet");
    let first = store.claim_fires(&claim("engine-a", 150, 10)).await.expect("claim");
    assert_eq!(first.iter().map(|f| f.task_id.as_str()).collect::<Vec<_>>(), vec!["a"]);
    assert_eq!(first[0].lease_owner.as_deref(), Some("engine-a"));
    assert_eq!(first[0].idempotency_key, "key-a-1");
    let second = store.claim_fires(&claim("engine-b", 250, 10)).await.expect("claim");
    assert_eq!(
        second.iter().map(|f| f.task_id.as_str()).collect::<Vec<_>>(),
        vec!["b"],
        "a is leased, c leased on insert"
    );
    // engine-a's lease on `a` ends at 650 and on `c` at 1000: after that, another engine takes them over.
    let after_crash = store.claim_fires(&claim("engine-b", 1_000, 10)).await.expect("claim");
    assert_eq!(
        after_crash.iter().map(|f| f.task_id.as_str()).collect::<Vec<_>>(),
        vec!["c", "a", "b"],
        "every lease has ended by then"
    );
    assert_eq!(store.renew_fire_leases("engine-a", &[first[0].id], 5_000).await.expect("renew"), vec![]);
    assert_eq!(store.renew_fire_leases("engine-b", &[first[0].id], 5_000).await.expect("renew"), vec![first[0].id]);
}

async fn fire_guards_protect_updates(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let mut fire = NewFire { runbook_id: Some(id), ..new_fire("a", 1, 0) };
    fire.lease = Some(("engine-a".into(), 100));
    let (ids, _) = store.commit(Commit { new_fires: vec![fire], now: 1, ..Default::default() }).await.expect("commit");
    let update = |guard, status| FireUpdate {
        id: ids[0],
        guard,
        status,
        state: r#"{"step":2}"#.into(),
        due_at: 10,
        lease: None,
    };

    let wrong_owner = Commit {
        fire_updates: vec![update(FireGuard::Lease("engine-b".into()), FireStatus::Waiting)],
        now: 2,
        ..Default::default()
    };
    assert!(matches!(store.commit(wrong_owner).await, Err(StoreError::FireGuardFailed { .. })));
    let waiting = Commit {
        fire_updates: vec![update(FireGuard::Lease("engine-a".into()), FireStatus::Waiting)],
        now: 2,
        ..Default::default()
    };
    store.commit(waiting).await.expect("owner updates");
    let stored = store.fire(ids[0]).await.expect("read").expect("exists");
    assert_eq!(
        (stored.status, stored.lease_owner, stored.state.as_str()),
        (FireStatus::Waiting, None, r#"{"step":2}"#)
    );

    // A callback completes a waiting, unleased fire once; a repeat finds it done.
    let callback = || Commit {
        fire_updates: vec![update(FireGuard::Status(FireStatus::Waiting), FireStatus::Done)],
        now: 3,
        ..Default::default()
    };
    store.commit(callback()).await.expect("callback");
    assert!(matches!(store.commit(callback()).await, Err(StoreError::FireGuardFailed { .. })));
    assert_eq!(store.fire(ids[0]).await.expect("read").expect("exists").status, FireStatus::Done);
    assert!(
        store
            .claim_fires(&ClaimRequest { owner: "x".into(), now: 1_000, lease_until: 2_000, limit: 5 })
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn log_records_follow_their_fire(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let record =
        |fire: usize, text: &str| NewLogRecord { fire: LogFire::New(fire), record: text.into(), created_at: 9 };
    let commit = Commit {
        new_fires: vec![
            NewFire { runbook_id: Some(id), ..new_fire("a", 1, 0) },
            NewFire { runbook_id: Some(id), ..new_fire("b", 1, 0) },
        ],
        log_records: vec![record(1, r#"{"n":"b1"}"#), record(0, r#"{"n":"a1"}"#), record(1, r#"{"n":"b2"}"#)],
        now: 1,
        ..Default::default()
    };
    let (ids, _) = store.commit(commit).await.expect("commit");
    let texts = |records: Vec<LogRecord>| records.into_iter().map(|r| r.record).collect::<Vec<_>>();
    assert_eq!(texts(store.actions_log(ids[1]).await.expect("log")), vec![r#"{"n":"b1"}"#, r#"{"n":"b2"}"#]);
    assert_eq!(texts(store.actions_log(ids[0]).await.expect("log")), vec![r#"{"n":"a1"}"#]);
    let dangling = Commit { log_records: vec![record(2, "{}")], now: 2, ..Default::default() };
    assert!(matches!(store.commit(dangling).await, Err(StoreError::Corrupt { what: "commit", .. })));
}

async fn timers_are_claimed_and_deleted(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let timer = |task: &str, due_at| NewTimer {
        runbook_id: id,
        task_id: Some(task.into()),
        kind: "fixed_start".into(),
        due_at,
    };
    let (_, timers) = store
        .commit(Commit { new_timers: vec![timer("late", 500), timer("early", 100)], now: 1, ..Default::default() })
        .await
        .expect("commit");
    let claim = |now| ClaimRequest { owner: "e".into(), now, lease_until: now + 10, limit: 10 };
    let due = store.claim_timers(&claim(200)).await.expect("claim");
    assert_eq!(due.iter().map(|t| t.task_id.as_deref()).collect::<Vec<_>>(), vec![Some("early")]);
    assert!(store.claim_timers(&claim(205)).await.expect("claim").is_empty(), "leased");
    store.commit(Commit { deleted_timers: vec![timers[1]], now: 2, ..Default::default() }).await.expect("delete");
    let later = store.claim_timers(&claim(1_000)).await.expect("claim");
    assert_eq!(
        later.iter().map(|t| t.task_id.as_deref()).collect::<Vec<_>>(),
        vec![Some("late")],
        "the deleted one is gone"
    );
}

fn token(access: &str) -> StoredCredential {
    StoredCredential::Active(OAuthToken {
        access_token: SecretString::from(access.to_owned()),
        token_type: "bearer".into(),
        refresh_token: Some(SecretString::from(format!("{access}-refresh"))),
        expires_at: None,
        scopes: vec!["chat:write".into()],
        obtained_at: jiff::Timestamp::UNIX_EPOCH,
        authorized: None,
    })
}

fn access_token(credential: Option<StoredCredential>) -> Option<String> {
    match credential? {
        StoredCredential::Active(token) => Some(token.access_token.expose_secret().to_owned()),
        StoredCredential::NeedsReauthentication { reason, .. } => Some(format!("needs reauthentication: {reason}")),
    }
}

async fn credentials_and_oauth_states(db: Db) {
    let store = Arc::new(db.store.clone());
    let key = CredentialKey::TaskUser { action: "1".into(), runbook: "2".into(), task: "t".into(), user: "3".into() };
    assert_eq!(access_token(store.load_credential(&key).await.expect("read")), None);
    store.save_credential(&key, &token("access-token-777")).await.expect("save");
    store.save_credential(&key, &token("access-token-778")).await.expect("replace");
    assert_eq!(access_token(store.load_credential(&key).await.expect("read")).as_deref(), Some("access-token-778"));
    let other = CredentialKey::FunctionalUser { action: "1".into() };
    assert_eq!(access_token(store.load_credential(&other).await.expect("read")), None);
    assert!(!contains(&database_bytes(&db).await, "access-token-77"), "tokens are sealed at rest");
    store.delete_credential(&key).await.expect("delete");
    assert_eq!(access_token(store.load_credential(&key).await.expect("read")), None);

    // One-time states, through the real authenticator on this store.
    let redirect = url::Url::parse("https://cutover.example/api/v1/oauth/callback").expect("url");
    let authenticator = Authenticator::new(
        store.clone(),
        reqwest::Client::new(),
        Arc::new(SystemClock),
        AuthenticatorSettings::new(redirect),
    );
    let settings = AuthSettings::Oauth2(cutover_integrations_model::OAuth2Settings {
        grant: cutover_integrations_model::OAuth2Grant::AuthorizationCode,
        client_id: "client".into(),
        client_secret: SecretValue::new("client-secret-555"),
        provider_host: "https://slack.com".into(),
        authorization_endpoint: Some("/oauth/authorize".into()),
        token_endpoint: "/api/oauth.access".into(),
        scopes: vec!["chat:write".into()],
        authenticate_as: Default::default(),
    });
    let config = AuthConfig::resolve(&settings, |value| {
        Ok::<_, std::convert::Infallible>(SecretString::from(value.expose().to_owned()))
    })
    .expect("config");
    let AuthConfig::OAuth2(config) = config else { panic!("oauth2 settings resolve to an OAuth2 config") };
    let started = authenticator.begin_authorization(&config, other.clone()).await.expect("begin");
    let state = started
        .url
        .query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .expect("state");
    assert!(!contains(&database_bytes(&db).await, &state), "the state is stored by its hash only");
    let pending = authenticator.redeem_state(&state).await.expect("first redemption");
    assert_eq!(pending.credential(), &other);
    assert!(matches!(authenticator.redeem_state(&state).await, Err(AuthError::StateAlreadyUsed)));
    assert!(matches!(authenticator.redeem_state("never-issued").await, Err(AuthError::UnknownState)));
}

async fn concurrent_claims_never_overlap(db: Db) {
    let store = db.store.clone();
    let id = runbook(&store).await;
    let fires = (0..300).map(|n| NewFire { runbook_id: Some(id), ..new_fire(&format!("t{n}"), 1, 0) }).collect();
    store.commit(Commit { new_fires: fires, now: 1, ..Default::default() }).await.expect("commit");
    let mut engines = Vec::new();
    for engine in 0..3 {
        let store = store.clone();
        engines.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let request =
                    ClaimRequest { owner: format!("engine-{engine}"), now: 10, lease_until: 1_000_000, limit: 7 };
                let claimed = store.claim_fires(&request).await.expect("claim");
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|fire| fire.id));
            }
        }));
    }
    let mut all = Vec::new();
    for engine in engines {
        all.extend(engine.await.expect("engine"));
    }
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!((count, all.len()), (300, 300), "every fire claimed exactly once");
}

async fn a_stale_runbook_commit_is_rebuilt_under_lock(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let write =
        |version, state: &str| RunbookWrite { id, expected_version: version, state: state.into(), tasks: Vec::new() };
    let first = Commit { runbook: Some(write(1, r#"{"v":2}"#)), now: 2, ..Default::default() };
    let mut never = |_: &RunbookRecord| -> Option<Commit> { panic!("a current commit is not rebuilt") };
    let committed = store.commit_runbook(first, &mut never).await.expect("commit").expect("written");
    assert_eq!(committed.runbook_version, Some(2));

    // Written against version 1 again: the store hands the current record to `rebuild` and writes its commit.
    let stale = Commit {
        runbook: Some(write(1, r#"{"v":"stale"}"#)),
        new_fires: vec![new_fire("stale", 1, 0)],
        now: 3,
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut rebuild = |record: &RunbookRecord| {
        seen.push((record.version, record.state.clone()));
        Some(Commit {
            runbook: Some(write(record.version, r#"{"v":3}"#)),
            new_fires: vec![new_fire("fresh", 1, 0)],
            now: 3,
            ..Default::default()
        })
    };
    let committed = store.commit_runbook(stale, &mut rebuild).await.expect("commit").expect("written");
    assert_eq!(seen, vec![(2, r#"{"v":2}"#.to_owned())]);
    assert_eq!((committed.runbook_version, committed.fire_ids.len()), (Some(3), 1));
    assert!(store.task_fires(id, "stale").await.expect("fires").is_empty(), "the stale commit wrote nothing");
    assert_eq!(store.task_fires(id, "fresh").await.expect("fires")[0].id, committed.fire_ids[0]);
    let record = store.runbook(id).await.expect("read").expect("exists");
    assert_eq!((record.version, record.state.as_str()), (3, r#"{"v":3}"#));

    // A rebuild that declines writes nothing.
    let stale = Commit { runbook: Some(write(1, r#"{"v":"stale"}"#)), now: 4, ..Default::default() };
    let declined = store.commit_runbook(stale, &mut |_: &RunbookRecord| None).await.expect("commit");
    assert_eq!(declined, None);
    assert_eq!(store.runbook(id).await.expect("read").expect("exists").version, 3);

    // A cached version is checked without reading the state when it is current.
    assert_eq!(store.runbook_if_changed(id, 3).await.expect("read"), None);
    assert_eq!(store.runbook_if_changed(id, 2).await.expect("read").map(|record| record.version), Some(3));
}

fn task(position: u32, state: &str) -> TaskRow {
    TaskRow { position, state: state.into() }
}

fn positions(record: &RunbookRecord) -> Vec<(u32, &str)> {
    record.tasks.iter().map(|task| (task.position, task.state.as_str())).collect()
}

/// A step writes only the task rows it changed; a reader that knows a version reads only what changed after it; a
/// rebuilt commit sees the rows changed since its version and the rows it writes; replacing a runbook replaces them all.
async fn task_rows_are_written_and_read_as_they_change(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let write = |version, tasks: Vec<TaskRow>| RunbookWrite {
        id,
        expected_version: version,
        state: format!("{{\"v\":{}}}", version + 1),
        tasks,
    };
    let commit = |write| Commit { runbook: Some(write), now: 2, ..Default::default() };
    store.commit(commit(write(1, vec![task(1, r#"{"t":"one"}"#)]))).await.expect("commit");

    let whole = store.runbook(id).await.expect("read").expect("exists");
    assert_eq!(positions(&whole), [(0, r#"{"t":0}"#), (1, r#"{"t":"one"}"#), (2, r#"{"t":2}"#)]);
    assert_eq!(whole.definition.as_deref(), Some(r#"{"name":"Release 42"}"#));
    let changes = store.runbook_if_changed(id, 1).await.expect("read").expect("changed");
    assert_eq!(
        (changes.version, changes.definition.as_deref(), positions(&changes)),
        (2, None, vec![(1, r#"{"t":"one"}"#)])
    );
    assert_eq!(changes.state, r#"{"v":2}"#);
    assert_eq!(store.runbook_if_changed(id, 2).await.expect("read"), None);

    // A row that does not exist stops the commit: nothing of it is written.
    let missing = store.commit(commit(write(2, vec![task(0, r#"{"t":"zero"}"#), task(7, "{}")]))).await;
    assert!(missing.is_err(), "{missing:?}");
    assert_eq!(store.runbook(id).await.expect("read").expect("exists"), whole);

    // Written against version 1: the rebuild sees row 1 (changed since) and row 2 (the commit writes it).
    let mut seen = Vec::new();
    let mut rebuild = |record: &RunbookRecord| {
        seen.push((
            record.version,
            record.definition.clone(),
            positions(record).into_iter().map(|(p, s)| (p, s.to_owned())).collect::<Vec<_>>(),
        ));
        Some(commit(write(record.version, vec![task(2, r#"{"t":"two"}"#)])))
    };
    let stale = commit(write(1, vec![task(2, r#"{"t":"stale"}"#)]));
    store.commit_runbook(stale, &mut rebuild).await.expect("commit").expect("written");
    assert_eq!(seen, vec![(2, None, vec![(1, r#"{"t":"one"}"#.to_owned()), (2, r#"{"t":2}"#.to_owned())])]);
    let changes = store.runbook_if_changed(id, 1).await.expect("read").expect("changed");
    assert_eq!(positions(&changes), [(1, r#"{"t":"one"}"#), (2, r#"{"t":"two"}"#)]);

    // Replacing the runbook replaces its definition and every row; a reader of an older version reads them all.
    let tasks = [r#"{"r":0}"#, r#"{"r":1}"#].map(String::from);
    let replaced = ReplacedRunbook {
        name: "Release 43",
        definition: r#"{"name":"Release 43"}"#,
        state: "{}",
        tasks: &tasks,
        events: &[],
    };
    assert_eq!(store.replace_runbook(id, 3, &replaced, 4).await.expect("replace").version, 4);
    let changes = store.runbook_if_changed(id, 3).await.expect("read").expect("changed");
    assert_eq!(changes.definition.as_deref(), Some(r#"{"name":"Release 43"}"#));
    assert_eq!(positions(&changes), [(0, r#"{"r":0}"#), (1, r#"{"r":1}"#)]);
    assert_eq!(store.runbook(id).await.expect("read").expect("exists").tasks.len(), 2);
}

async fn log_records_may_name_new_fires(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let log = |fire: usize, text: &str| NewLogRecord { fire: LogFire::New(fire), record: text.into(), created_at: 9 };
    let commit = Commit {
        runbook: Some(RunbookWrite { id, expected_version: 1, state: "{}".into(), tasks: Vec::new() }),
        new_fires: vec![new_fire("a", 1, 0), new_fire("b", 1, 0)],
        log_records: vec![log(1, "about b"), log(0, "about a")],
        now: 9,
        ..Default::default()
    };
    let (fires, _) = store.commit(commit).await.expect("commit");
    let texts = |records: Vec<LogRecord>| records.into_iter().map(|record| record.record).collect::<Vec<_>>();
    assert_eq!(texts(store.actions_log(fires[0]).await.expect("log")), vec!["about a"]);
    assert_eq!(texts(store.actions_log(fires[1]).await.expect("log")), vec!["about b"]);
    let beyond = Commit { new_fires: vec![], log_records: vec![log(0, "nobody")], now: 9, ..Default::default() };
    assert!(matches!(store.commit(beyond).await, Err(StoreError::Corrupt { .. })));
}

async fn catalog_changes_raise_the_revision(db: Db) {
    let store = &db.store;
    let mut revisions = vec![store.catalog_revision().await.expect("revision")];
    let applied = store.apply_integration(&slack(), 1).await.expect("apply");
    revisions.push(store.catalog_revision().await.expect("revision"));
    store.set_integration_archived(applied.integration_id, true, 2).await.expect("archive");
    revisions.push(store.catalog_revision().await.expect("revision"));
    let record = store.integration(applied.integration_id).await.expect("read").expect("exists");
    store.update_action(record.action_ids[0], &action("post", "other-token"), 3).await.expect("update");
    revisions.push(store.catalog_revision().await.expect("revision"));
    let parameter = SystemParameter { name: "p".into(), value: SecretValue::new("v"), secret: false };
    store.put_system_parameter(&parameter, 4).await.expect("parameter");
    revisions.push(store.catalog_revision().await.expect("revision"));
    let field = slack().custom_fields[0].clone();
    store.put_custom_field(&field, 5).await.expect("field");
    revisions.push(store.catalog_revision().await.expect("revision"));
    assert!(revisions.windows(2).all(|pair| pair[0] < pair[1]), "every change raises it: {revisions:?}");
    assert_eq!(store.catalog_changes_here(), 5, "and the count of changes made through this store");
    let id = runbook(store).await;
    store
        .commit(Commit {
            runbook: Some(RunbookWrite { id, expected_version: 1, state: "{}".into(), tasks: Vec::new() }),
            now: 6,
            ..Default::default()
        })
        .await
        .expect("commit");
    assert_eq!(store.catalog_revision().await.expect("revision"), revisions[5], "runbook changes do not");
}

/// Eight writers commit to one runbook at once from stale versions; every commit lands exactly once, each rebuilt
/// against the state the previous one left.
async fn concurrent_runbook_commits_all_land(db: Db) {
    let store = Arc::new(db.store.clone());
    let id = runbook(&store).await;
    let writers = (0..8).map(|writer| {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..5 {
                let fire = |version: i64| Commit {
                    runbook: Some(RunbookWrite {
                        id,
                        expected_version: version,
                        state: format!("{{\"v\":{}}}", version + 1),
                        // Writers 0 to 2 each own one of the three task rows.
                        tasks: if writer < 3 {
                            vec![TaskRow { position: writer, state: format!("{{\"w\":{n}}}") }]
                        } else {
                            Vec::new()
                        },
                    }),
                    new_fires: vec![new_fire(&format!("w{writer}-{n}"), 1, 0)],
                    now: 1,
                    ..Default::default()
                };
                let mut rebuild = |record: &RunbookRecord| Some(fire(record.version));
                store.commit_runbook(fire(1), &mut rebuild).await.expect("commit").expect("written");
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("writer");
    }
    let record = store.runbook(id).await.expect("read").expect("exists");
    assert_eq!((record.version, record.state), (41, r#"{"v":41}"#.to_owned()));
    // Every writer's last write of its task row landed (writers 0 to 2 own the three tasks).
    let states: Vec<String> = record.tasks.iter().map(|task| task.state.clone()).collect();
    assert_eq!(states, vec![r#"{"w":4}"#.to_owned(); 3]);
    for writer in 0..8 {
        for n in 0..5 {
            assert_eq!(store.task_fires(id, &format!("w{writer}-{n}")).await.expect("fires").len(), 1);
        }
    }
}

/// Commits dropped at their first await (cancelled mid-flight) land whole or not at all, and the store goes on.
async fn a_cancelled_commit_leaves_all_or_nothing(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let commit = |task: String| Commit {
        new_fires: vec![NewFire { runbook_id: Some(id), ..new_fire(&task, 1, 0) }],
        log_records: vec![NewLogRecord { fire: LogFire::New(0), record: format!("log of {task}"), created_at: 1 }],
        now: 1,
        ..Default::default()
    };
    for n in 0..20 {
        let cancelled = tokio::time::timeout(std::time::Duration::ZERO, store.commit(commit(format!("cancelled-{n}"))));
        let _ = cancelled.await;
        store.commit(commit(format!("kept-{n}"))).await.expect("the next commit works");
    }
    for n in 0..20 {
        for (task, must_exist) in [(format!("cancelled-{n}"), false), (format!("kept-{n}"), true)] {
            let fires = store.task_fires(id, &task).await.expect("fires");
            assert!(fires.len() <= 1);
            if must_exist {
                assert_eq!(fires.len(), 1, "{task}");
            }
            if let Some(fire) = fires.first() {
                let log = store.actions_log(fire.id).await.expect("log");
                assert_eq!(log.len(), 1, "{task}: a fire comes with its log record");
            }
        }
    }
}

/// Commits of many rows (a group commit; on SQLite they travel as JSON arrays) map ids, keep log order and guards
/// exactly as small ones do.
async fn large_commits_are_written_whole_or_not_at_all(db: Db) {
    let store = &db.store;
    let id = runbook(store).await;
    let count = 12;
    let mut fires = Vec::new();
    let mut logs = Vec::new();
    for n in 0..count {
        let mut fire = new_fire(&format!("task-{n}"), 1, 0);
        fire.lease = Some(("engine-a".into(), 1_000));
        fire.state = format!("{{\"n\":{n},\"text\":\"quote \\\" and ✅\"}}");
        fires.push(fire);
        // Two records per fire, interleaved across fires, naming the new fires by position.
        logs.push(NewLogRecord { fire: LogFire::New(n), record: format!("first of {n}"), created_at: 5 });
    }
    for n in (0..count).rev() {
        logs.push(NewLogRecord { fire: LogFire::New(n), record: format!("second of {n}"), created_at: 6 });
    }
    let commit = Commit {
        runbook: Some(RunbookWrite { id, expected_version: 1, state: "{\"big\":true}".into(), tasks: Vec::new() }),
        new_fires: fires.clone(),
        log_records: logs,
        now: 5,
        ..Default::default()
    };
    let (ids, _) = store.commit(commit).await.expect("commit");
    assert_eq!(ids.len(), count);
    for (n, fire_id) in ids.iter().enumerate() {
        let stored = store.fire(*fire_id).await.expect("read").expect("fire");
        assert_eq!(
            (stored.task_id.as_str(), stored.state.as_str()),
            (fires[n].task_id.as_str(), fires[n].state.as_str())
        );
        let log: Vec<String> = store.actions_log(*fire_id).await.expect("log").into_iter().map(|r| r.record).collect();
        assert_eq!(log, vec![format!("first of {n}"), format!("second of {n}")]);
    }

    // Updates of every fire under its lease, with a log record each.
    let update = |fire: FireId, owner: &str, state: String| FireUpdate {
        id: fire,
        guard: FireGuard::Lease(owner.into()),
        status: FireStatus::Waiting,
        state,
        due_at: 99,
        lease: None,
    };
    let commit = Commit {
        runbook: Some(RunbookWrite { id, expected_version: 2, state: "{\"big\":2}".into(), tasks: Vec::new() }),
        fire_updates: ids.iter().map(|fire| update(*fire, "engine-a", format!("{{\"waiting\":{}}}", fire.0))).collect(),
        log_records: ids
            .iter()
            .map(|fire| NewLogRecord { fire: LogFire::Stored(*fire), record: "sent".into(), created_at: 7 })
            .collect(),
        now: 7,
        ..Default::default()
    };
    store.commit(commit).await.expect("commit");
    for fire_id in &ids {
        let stored = store.fire(*fire_id).await.expect("read").expect("fire");
        assert_eq!((stored.status, stored.due_at, stored.lease_owner), (FireStatus::Waiting, 99, None));
        assert_eq!(stored.state, format!("{{\"waiting\":{}}}", fire_id.0));
    }

    // One update whose guard fails spoils the whole commit: nothing of it is written.
    let mut updates: Vec<FireUpdate> = ids
        .iter()
        .map(|fire| FireUpdate { guard: FireGuard::Status(FireStatus::Waiting), ..update(*fire, "x", "{}".into()) })
        .collect();
    updates[5].guard = FireGuard::Status(FireStatus::Due);
    let commit = Commit {
        runbook: Some(RunbookWrite { id, expected_version: 3, state: "{\"spoiled\":true}".into(), tasks: Vec::new() }),
        fire_updates: updates.clone(),
        log_records: ids
            .iter()
            .map(|fire| NewLogRecord { fire: LogFire::Stored(*fire), record: "spoiled".into(), created_at: 8 })
            .collect(),
        now: 8,
        ..Default::default()
    };
    let failed = store.commit(commit).await;
    assert!(matches!(failed, Err(StoreError::FireGuardFailed { fire, .. }) if fire == ids[5]), "{failed:?}");
    assert_eq!(store.runbook(id).await.expect("read").expect("runbook").version, 3);
    for fire_id in &ids {
        let log = store.actions_log(*fire_id).await.expect("log");
        assert!(log.iter().all(|record| record.record != "spoiled"), "nothing of the failed commit is written");
    }

    // The same updates under guards that hold (waiting, no live lease) go through.
    updates[5].guard = FireGuard::Status(FireStatus::Waiting);
    let commit = Commit {
        runbook: Some(RunbookWrite { id, expected_version: 3, state: "{\"big\":4}".into(), tasks: Vec::new() }),
        fire_updates: updates,
        now: 8,
        ..Default::default()
    };
    store.commit(commit).await.expect("commit");
    assert_eq!(store.fire(ids[5]).await.expect("read").expect("fire").state, "{}");
}

fn ring_cipher(ring: &str) -> Arc<dyn Sealer> {
    Arc::new(Cipher::new(KeyRing::parse(ring).expect("ring")))
}

const KEY_7: &str = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="; // [7u8; 32], the suite's key
const KEY_8: &str = "CAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAg=";
const KEY_9: &str = "CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=";

async fn reopen(db: &Db, ring: &str) -> Result<SqlStore, StoreError> {
    SqlStore::connect(SqlStoreOptions::new(&db.url), ring_cipher(ring)).await
}

/// A secret of every sealed kind: action auth, a system parameter, a credential, an OAuth state.
async fn secrets_of_every_kind(store: &Arc<SqlStore>) -> String {
    store.apply_integration(&slack(), 1).await.expect("apply");
    let parameter = SystemParameter { name: "api_token".into(), value: SecretValue::new("s3cr3t-param"), secret: true };
    store.put_system_parameter(&parameter, 1).await.expect("put");
    let key = CredentialKey::FunctionalUser { action: "1".into() };
    store.save_credential(&key, &token("access-token-777")).await.expect("save");
    let redirect = url::Url::parse("https://cutover.example/api/v1/oauth/callback").expect("url");
    let authenticator = Authenticator::new(
        store.clone(),
        reqwest::Client::new(),
        Arc::new(SystemClock),
        AuthenticatorSettings::new(redirect),
    );
    let settings = AuthSettings::Oauth2(cutover_integrations_model::OAuth2Settings {
        grant: cutover_integrations_model::OAuth2Grant::AuthorizationCode,
        client_id: "client".into(),
        client_secret: SecretValue::new("client-secret-555"),
        provider_host: "https://slack.com".into(),
        authorization_endpoint: Some("/oauth/authorize".into()),
        token_endpoint: "/api/oauth.access".into(),
        scopes: vec![],
        authenticate_as: Default::default(),
    });
    let config = AuthConfig::resolve(&settings, |value| {
        Ok::<_, std::convert::Infallible>(SecretString::from(value.expose().to_owned()))
    })
    .expect("config");
    let AuthConfig::OAuth2(config) = config else { panic!("an OAuth2 config") };
    let started = authenticator.begin_authorization(&config, key).await.expect("begin");
    started.url.query_pairs().find(|(name, _)| name == "state").map(|(_, value)| value.into_owned()).expect("state")
}

/// Every secret of [`secrets_of_every_kind`] reads back through `store`.
async fn every_secret_opens(store: &Arc<SqlStore>, state: &str) {
    let records = store.integrations().await.expect("action auth opens");
    assert_eq!(records[0].integration, slack());
    let parameters = store.system_parameters().await.expect("parameters open");
    assert_eq!(parameters[0].value.expose(), "s3cr3t-param");
    let key = CredentialKey::FunctionalUser { action: "1".into() };
    assert_eq!(
        access_token(store.load_credential(&key).await.expect("credential opens")).as_deref(),
        Some("access-token-777")
    );
    let redemption = store.take_pending_authorization(state).await.expect("the state opens");
    assert!(matches!(redemption, cutover_integrations_auth::StateRedemption::Pending(_)), "{redemption:?}");
}

async fn a_database_refuses_keys_that_did_not_seal_it(db: Db) {
    let store = Arc::new(db.store.clone());
    secrets_of_every_kind(&store).await;
    let cases = [
        (KEY_7.to_owned(), None),
        (KEY_8.to_owned(), Some("WrongSecretKey { key_id: 1 }")),
        (format!("2:{KEY_8},1:{KEY_7}"), None),
        (format!("2:{KEY_8},1:{KEY_9}"), Some("WrongSecretKey { key_id: 1 }")),
        (format!("3:{KEY_8}"), Some("MissingSecretKey { key_id: 1 }")),
    ];
    for (ring, expected) in cases {
        let outcome = reopen(&db, &ring).await.map(|_| ()).map_err(|error| format!("{error:?}"));
        match expected {
            None => assert!(outcome.is_ok(), "{ring}: {outcome:?}"),
            Some(expected) => assert_eq!(outcome.unwrap_err(), expected),
        }
    }
    // Once key 2 sealed something, its check is there too: a ring without key 2 is refused by id.
    assert_eq!(
        reopen(&db, KEY_7).await.map(|_| ()).map_err(|error| error.to_string()).unwrap_err(),
        "this database holds secrets sealed with key id 2, which the configured secret keys do not include; \
         configure that key (as a retired key `NEW_ID:NEW_KEY,2:OLD_KEY` during a rotation)"
    );
}

async fn resealing_moves_every_secret_to_the_new_key(db: Db) {
    let store = Arc::new(db.store.clone());
    let state = secrets_of_every_kind(&store).await;
    // A database from before the key check: no check row, and a wrong key is still refused (by a sealed value).
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    sqlx::query("DELETE FROM key_checks").execute(&pool).await.expect("drop the checks");
    assert!(matches!(reopen(&db, KEY_8).await, Err(StoreError::WrongSecretKey { key_id: 1 })));

    let resealed = store.reseal(ring_cipher(KEY_8).as_ref()).await.expect("reseal");
    assert_eq!(resealed, Resealed { values: 4, key_id: 1 });
    assert!(
        matches!(reopen(&db, KEY_7).await, Err(StoreError::WrongSecretKey { key_id: 1 })),
        "the old key is retired"
    );
    let moved = Arc::new(reopen(&db, KEY_8).await.expect("the new key opens the database"));
    // A rotation through the ring: key 2 added as current, everything re-sealed with it, key 1 retired.
    let both = Arc::new(reopen(&db, &format!("2:{KEY_9},1:{KEY_8}")).await.expect("old and new keys"));
    let resealed = both.reseal(ring_cipher(&format!("2:{KEY_9},1:{KEY_8}")).as_ref()).await.expect("reseal");
    assert_eq!(resealed, Resealed { values: 4, key_id: 2 });
    drop(moved);
    let retired = Arc::new(reopen(&db, &format!("2:{KEY_9}")).await.expect("key 1 retired"));
    every_secret_opens(&retired, &state).await;
    let bytes = database_bytes(&db).await;
    for secret in [SECRET, "s3cr3t-param", "access-token-777"] {
        assert!(!contains(&bytes, secret), "{secret} is sealed at rest");
    }
}

async fn listing_integrations_opens_no_secret(db: Db) {
    let store = &db.store;
    store.apply_integration(&slack(), 1).await.expect("apply");
    let mut expected = slack();
    expected.actions[0].auth =
        AuthSettings::Token { token_type: "Bearer".into(), token: SecretValue::new("[REDACTED]") };
    assert_eq!(store.integrations_redacted().await.expect("list")[0].integration, expected);
    // Sealed settings that cannot be opened: the full read fails, the list does not need them.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect");
    sqlx::query("UPDATE actions SET auth = $1").bind(vec![0u8; 64]).execute(&pool).await.expect("spoil the seal");
    assert!(store.integrations().await.is_err(), "opening the auth fails");
    assert_eq!(store.integrations_redacted().await.expect("list without opening")[0].integration, expected);
    assert!(!contains(&database_bytes(&db).await, SECRET), "the public body holds no secret");
}

/// A rename or a draft is refused while tasks name the action: the store finds those runbooks by the exact reference
/// or the integration's prefix, and nothing that merely looks alike (another integration starting with the same
/// letters, an action name in a description).
async fn runbooks_naming_an_action_are_found_in_their_definitions(db: Db) {
    let store = &db.store;
    let definitions = [
        ("Uses Post", r#"{"runbook":{"name":"A","tasks":[{"id":"a","action":"Slack/Post"},{"id":"b"}]},"plan":{}}"#),
        ("Uses Other", r#"{"runbook":{"name":"B","tasks":[{"id":"a","action":"Slack/Post/Thread"}]},"plan":{}}"#),
        ("Look-alike", r#"{"runbook":{"name":"C","tasks":[{"id":"a","action":"Slackware/Post"}]},"plan":{}}"#),
        ("Mention", r#"{"runbook":{"name":"D","tasks":[{"id":"a","description":"Slack/Post"}]},"plan":{}}"#),
        ("No tasks", r#"{"runbook":{"name":"E","tasks":[]},"plan":{}}"#),
    ];
    let mut ids = Vec::new();
    for (name, definition) in definitions {
        let new = NewRunbook { name, definition, state: r#"{"v":1}"#, tasks: &[], events: &[] };
        ids.push(store.create_runbook(&new, 1).await.expect("runbook").id);
    }
    let post = ActionRef { integration: "Slack".into(), action: "Post".into() };
    let thread = ActionRef { integration: "Slack".into(), action: "Post/Thread".into() };
    let percent = ActionRef { integration: "Sl%".into(), action: "_".into() };
    let cases: [(TaskReference<'_>, &[usize]); 6] = [
        (TaskReference::Action(&post), &[0]),
        (TaskReference::Action(&thread), &[1]),
        (TaskReference::Integration("Slack"), &[0, 1]),
        (TaskReference::Integration("Slackware"), &[2]),
        (TaskReference::Integration("Sl"), &[]),
        (TaskReference::Action(&percent), &[]),
    ];
    for (reference, expected) in cases {
        let found = store.runbooks_naming(reference).await.expect("query");
        let expected: Vec<NamingRunbook> = expected
            .iter()
            .map(|index| NamingRunbook { id: ids[*index], name: definitions[*index].0.to_owned() })
            .collect();
        assert_eq!(found, expected, "{reference:?}");
    }
}
