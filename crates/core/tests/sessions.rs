//! Console sessions in the store: a session started by one engine is live for another on the same database (a
//! restart), its id is never stored, the idle and absolute deadlines end it, ended rows are purged, a user keeps a
//! bounded number of sessions, and sign-out ends one at once. On SQLite, and on PostgreSQL when
//! `CUTOVER_TEST_POSTGRES_URL` is set.

use cutover_integrations_core::http::{ManualTimer, Timer};
use cutover_integrations_core::model::Role;
use cutover_integrations_core::store::NewUser;
use cutover_integrations_core::{Engine, SessionPolicy};
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
use jiff::{SignedDuration, Timestamp};
use secrecy::ExposeSecret as _;
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn start() -> Timestamp {
    "2026-12-01T09:00:00Z".parse().expect("a time")
}

fn at(minutes: i64) -> Timestamp {
    start() + SignedDuration::from_mins(minutes)
}

async fn engine(url: &str, timer: Arc<ManualTimer>) -> Engine {
    let timer: Arc<dyn Timer> = timer;
    Engine::builder().database_url(url).secret_key_base64(KEY).timer(timer).build().await.expect("engine")
}

fn policy() -> SessionPolicy {
    SessionPolicy {
        idle_timeout: Duration::from_secs(10 * 60),
        lifetime: Duration::from_secs(30 * 60),
        max_per_user: 2,
    }
}

/// Every byte of a SQLite database and its write-ahead log.
fn sqlite_bytes(url: &str) -> Vec<u8> {
    let path = url.trim_start_matches("sqlite://");
    let mut bytes = std::fs::read(path).expect("the database file");
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    bytes
}

async fn check(url: &str) {
    let policy = policy();
    let first = Arc::new(ManualTimer::new(start()));
    let before = engine(url, Arc::clone(&first)).await;
    let user = NewUser { name: "Ada".into(), email: "ada@example.com".into(), roles: vec![Role::Admin] };
    let ada = before.create_user(&user).await.expect("a user").user;
    let started = before.start_session(&ada, &policy).await.expect("a session");
    let id = started.id.expose_secret().to_owned();
    assert_eq!(started.expires_at, at(30));
    if url.starts_with("sqlite:") {
        let bytes = sqlite_bytes(url);
        let stored = |needle: &str| bytes.windows(needle.len()).any(|window| window == needle.as_bytes());
        assert!(!stored(&id), "the session id itself is not stored");
    }
    drop(before);

    // A restart: another engine on the database knows the session, with its CSRF token.
    let timer = Arc::new(ManualTimer::new(at(5)));
    let after = engine(url, Arc::clone(&timer)).await;
    let live = after.session(&id, &policy).await.expect("lookup").expect("live after the restart");
    assert_eq!(live.user.email, "ada@example.com");
    assert_eq!(live.csrf, started.csrf);
    assert!(after.session("not-a-session", &policy).await.expect("lookup").is_none());

    // Use moves the idle deadline on (5 → 15, 14 → 24, 23 → 30: never past the absolute end), which then ends it.
    for minute in [14, 23, 29] {
        timer.advance_to(at(minute));
        assert!(after.session(&id, &policy).await.expect("lookup").is_some(), "live at minute {minute}");
    }
    timer.advance_to(at(30));
    assert!(after.session(&id, &policy).await.expect("lookup").is_none(), "ended at its absolute deadline");

    // Unused for the idle timeout, a session ends.
    let idle = after.start_session(&ada, &policy).await.expect("a session");
    let idle_id = idle.id.expose_secret().to_owned();
    timer.advance_to(at(39));
    assert!(after.session(&idle_id, &policy).await.expect("lookup").is_some());
    timer.advance_to(at(49) + SignedDuration::from_millis(1));
    assert!(after.session(&idle_id, &policy).await.expect("lookup").is_none(), "ended idle");
    assert_eq!(after.purge_sessions().await.expect("purge"), 1, "the idle session's row is purged");

    // A user keeps at most `max_per_user` sessions: the oldest ends.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let started = after.start_session(&ada, &policy).await.expect("a session");
        ids.push(started.id.expose_secret().to_owned());
    }
    let live: Vec<bool> = live_flags(&after, &ids, &policy).await;
    assert_eq!(live, [false, true, true]);

    // Sign-out deletes the session at once.
    let session = after.session(&ids[2], &policy).await.expect("lookup").expect("live");
    after.end_session(&session.id_hash).await.expect("ended");
    assert!(after.session(&ids[2], &policy).await.expect("lookup").is_none());
    assert!(after.session(&ids[1], &policy).await.expect("lookup").is_some(), "other sessions live on");
}

async fn live_flags(engine: &Engine, ids: &[String], policy: &SessionPolicy) -> Vec<bool> {
    let mut live = Vec::new();
    for id in ids {
        live.push(engine.session(id, policy).await.expect("lookup").is_some());
    }
    live
}

#[tokio::test]
async fn sessions_survive_a_restart_and_end_on_time_on_sqlite() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    check(&fresh_sqlite_url(directory.path())).await;
}

#[tokio::test]
async fn sessions_survive_a_restart_and_end_on_time_on_postgres() {
    let Some(url) = fresh_postgres_url("sessions_survive_a_restart_and_end_on_time_on_postgres").await else {
        return;
    };
    check(&url).await;
}
