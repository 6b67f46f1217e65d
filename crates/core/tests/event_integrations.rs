//! Event integrations end to end, on SQLite and PostgreSQL: a loopback receiver gets each runbook's events in event
//! order, filtered by event type, scope, `enabled` and `execute_in_rehearsal`; a failing receiver is retried, then the
//! delivery is recorded as failed in the runbook's actions log while the runbook goes on; a receiver that holds its
//! request holds up no other event integration; hostile receivers and refused addresses are recorded and never get a
//! token across origins; and across SIGKILLs of the engine every `task.started` and `task.finished` arrives, each event
//! id under one idempotency key.
//!
//! The crash test's engine process is this test binary run again with [`CHILD_DATABASE`] set: [`crash_child_process`]
//! is its entry point and returns at once in a normal test run.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use cutover_integrations_core::UserCommand;
use cutover_integrations_core::http::ExecutorConfig;
use cutover_integrations_core::model::{RunMode, RunbookStage};
use cutover_integrations_core::runbook::Actor;
use cutover_integrations_core::store::{DeliveryOutcome, DeliveryStatus, RunbookId};
use cutover_integrations_core::{Engine, EngineSettings};
use cutover_integrations_test_support::held_endpoint::held_endpoint;
use cutover_integrations_test_support::{fresh_postgres_url, fresh_sqlite_url};
use rand::Rng;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The token of one event integration: sent, never logged.
const SECRET: &str = "evt-s3cret-4242";
const CHILD_DATABASE: &str = "CUTOVER_EVENTS_CHILD_DATABASE";
const CHILD_RECEIVER: &str = "CUTOVER_EVENTS_CHILD_RECEIVER";
/// Bytes of `/huge`'s answer: four times what the executor reads of a body.
const HUGE_BODY: usize = 4 * 1024 * 1024;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    key: String,
    authorization: String,
    body: Value,
}

impl Received {
    fn event_type(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }

    fn event_id(&self) -> i64 {
        self.body["id"].as_i64().unwrap_or_default()
    }

    fn runbook(&self) -> i64 {
        self.body["runbook"]["id"].as_i64().unwrap_or_default()
    }

    fn task(&self) -> String {
        self.body["task"]["id"].as_str().unwrap_or_default().to_owned()
    }
}

/// A loopback receiver: records every request; `/fail` answers 503 with `Retry-After: 0`, `/nul` a body with NUL
/// characters, `/huge` a body of [`HUGE_BODY`] bytes, `/see-other?to=URL` and `/temporary?to=URL` redirect to `URL`
/// with 303 and 307; anything else answers 200.
#[derive(Clone)]
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    count: Arc<watch::Sender<usize>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let receiver = Self { url, received: Arc::default(), count: Arc::new(watch::channel(0).0) };
        let state = receiver.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move {
                let header =
                    |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let received = Received {
                    path: uri.path().to_owned(),
                    key: header("idempotency-key"),
                    authorization: header("authorization"),
                    body: serde_json::from_slice(&body).unwrap_or_default(),
                };
                let total = {
                    let mut all = state.received.lock().expect("lock");
                    all.push(received);
                    all.len()
                };
                state.count.send_replace(total);
                let to = uri.query().and_then(|query| query.strip_prefix("to=")).unwrap_or_default().to_owned();
                match uri.path() {
                    "/fail" => (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "0")], "down").into_response(),
                    "/nul" => (StatusCode::OK, "ok\0\0nul\u{0}").into_response(),
                    "/huge" => (StatusCode::OK, "x".repeat(HUGE_BODY)).into_response(),
                    "/see-other" => (StatusCode::SEE_OTHER, [("location", to)]).into_response(),
                    "/temporary" => (StatusCode::TEMPORARY_REDIRECT, [("location", to)]).into_response(),
                    _ => (StatusCode::OK, "ok").into_response(),
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the receiver runs") });
        receiver
    }

    fn at(&self, path: &str) -> Vec<Received> {
        self.received.lock().expect("lock").iter().filter(|r| r.path == path).cloned().collect()
    }

    async fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) {
        let mut counter = self.count.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if done(&self.received.lock().expect("lock")) {
                    return;
                }
                counter.changed().await.expect("the receiver runs");
            }
        })
        .await;
        assert!(waited.is_ok(), "timed out waiting for {what}: {:#?}", self.received.lock().expect("lock"));
    }
}

async fn open_engine(url: &str, settings: EngineSettings) -> Engine {
    open_engine_with(url, settings, ExecutorConfig::default()).await
}

async fn open_engine_with(url: &str, settings: EngineSettings, executor: ExecutorConfig) -> Engine {
    Engine::builder()
        .database_url(url)
        .secret_key_base64(KEY)
        .executor_config(executor)
        .allow_outbound("127.0.0.0/8".parse().expect("CIDR"))
        .settings(settings)
        .build()
        .await
        .expect("engine")
}

fn event_integration(name: &str, events: &str, extra: &str, url: &str) -> String {
    format!(
        "kind: event_integration\nname: {name}\nevents: [{events}]\n{extra}request: {{method: POST, url: '{url}'}}\n"
    )
}

/// (path, runbook, event type, task) of what arrived at `path`, in arrival order.
fn seen(receiver: &Receiver, path: &str) -> Vec<(i64, String, String)> {
    receiver.at(path).iter().map(|r| (r.runbook(), r.event_type().to_owned(), r.task())).collect()
}

async fn runs_and_filters(url: &str) {
    let receiver = Receiver::start().await;
    let base = &receiver.url;
    let settings = EngineSettings { poll_interval: Duration::from_millis(50), ..EngineSettings::default() };
    let engine = open_engine(url, settings).await;
    let running = engine.start();
    let started_finished = "task.started, task.finished";
    let files = [
        (
            "all.yaml",
            event_integration(
                "All",
                started_finished,
                &format!("auth: {{type: token, token: {SECRET}}}\n"),
                &format!("{base}/all"),
            ),
        ),
        ("only.yaml", event_integration("Only", "task.started", "scope: {runbook: R}\n", &format!("{base}/only"))),
        (
            "dev.yaml",
            event_integration(
                "Dev",
                "task.started",
                "scope: {workspace: Dev}\nexecute_in_rehearsal: true\n",
                &format!("{base}/dev"),
            ),
        ),
        ("off.yaml", event_integration("Off", started_finished, "enabled: false\n", &format!("{base}/off"))),
        ("fail.yaml", event_integration("Fail", "run.started", "", &format!("{base}/fail"))),
        (
            "custom.yaml",
            "kind: event_integration\nname: Custom\nevents: [runbook.finished]\nrequest:\n  method: POST\n  \
             url: '{{SystemParameter.base}}/custom'\n  payload: {what: '{{Event.type}} of {{Runbook.name}}', \
             id: '{{Event.id | plus: 0}}'}\n"
                .replace("{{SystemParameter.base}}", base),
        ),
        (
            "r.yaml",
            "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A}\n  - {id: b, name: B, predecessors: [a]}\n  \
             - {id: c, name: C, predecessors: [b]}\n"
                .to_owned(),
        ),
        ("s.yaml", "kind: runbook\nname: S\nworkspace: Dev\ntasks:\n  - {id: x, name: X}\n".to_owned()),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(name, text)| (*name, text.as_str())).collect();
    let applied = engine.apply_definitions(&files).await.expect("definitions");
    assert_eq!(applied.event_integrations.len(), 6);
    let (r, s) = (applied.runbooks[0], applied.runbooks[1]);
    let user = Actor::with_roles([cutover_integrations_core::model::Role::Operator]);
    let command = |runbook: RunbookId, command: UserCommand| {
        let engine = engine.clone();
        let user = user.clone();
        async move { engine.command(runbook, command, &user).await.expect("command") }
    };
    command(r, UserCommand::StartRunbook { mode: RunMode::Live }).await;
    command(s, UserCommand::StartRunbook { mode: RunMode::Rehearsal }).await;
    for task in ["a", "b", "c"] {
        command(r, UserCommand::StartTask { task: task.into(), force: false }).await;
        command(r, UserCommand::FinishTask { task: task.into() }).await;
    }
    command(s, UserCommand::StartTask { task: "x".into(), force: false }).await;
    command(s, UserCommand::FinishTask { task: "x".into() }).await;
    assert_eq!(engine.runbook(r).await.expect("runbook").state.stage(), RunbookStage::Complete);

    receiver
        .wait_until("every delivery", |all| {
            let at = |path: &str| all.iter().filter(|r| r.path == path).count();
            at("/all") == 6 && at("/only") == 3 && at("/dev") == 1 && at("/fail") == 4 && at("/custom") == 1
        })
        .await;
    let r_id = r.0;
    let task = |kind: &str, task: &str| (r_id, kind.to_owned(), task.to_owned());
    assert_eq!(
        seen(&receiver, "/all"),
        [
            task("task.started", "a"),
            task("task.finished", "a"),
            task("task.started", "b"),
            task("task.finished", "b"),
            task("task.started", "c"),
            task("task.finished", "c"),
        ]
    );
    assert_eq!(
        seen(&receiver, "/only"),
        [task("task.started", "a"), task("task.started", "b"), task("task.started", "c")]
    );
    assert_eq!(seen(&receiver, "/dev"), [(s.0, "task.started".to_owned(), "x".to_owned())], "S is Dev's, in rehearsal");
    assert!(receiver.at("/off").is_empty(), "a disabled event integration gets nothing");
    // The default payload.
    let first = &receiver.at("/all")[0];
    assert_eq!(first.body["runbook"]["name"], "R");
    assert_eq!(first.body["task"]["name"], "A");
    assert_eq!(first.body["actor"], "user");
    assert_eq!(first.body["link"], format!("http://127.0.0.1:8080/runbooks/{r_id}"));
    assert!(first.body["created_at"].as_str().is_some_and(|at| at.ends_with('Z')));
    let ids: Vec<i64> = receiver.at("/all").iter().map(Received::event_id).collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "in event order: {ids:?}");
    let keys: Vec<String> = receiver.at("/all").iter().map(|r| r.key.clone()).collect();
    assert!(keys.iter().all(|key| key.starts_with("cutover-event-")), "{keys:?}");
    // A custom payload, structured, with a typed leaf.
    let custom = &receiver.at("/custom")[0].body;
    assert_eq!(custom["what"], "runbook.finished of R");
    assert!(custom["id"].is_i64(), "{custom}");

    // The failing receiver: four attempts with one key, then `failed` in R's actions log, R complete meanwhile.
    let failing = receiver.at("/fail");
    assert!(failing.iter().all(|r| r.key == failing[0].key), "retries carry the delivery's key");
    // Every delivery of R recorded (a receiver gets a request before its answer is recorded).
    let failed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let log = engine.runbook_event_deliveries(r).await.expect("deliveries");
            if let Some(delivery) = log.iter().find(|d| d.event_integration.as_deref() == Some("Fail"))
                && log.iter().all(|d| d.status == DeliveryStatus::Done)
            {
                return delivery.clone();
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every delivery is recorded");
    assert_eq!(failed.outcome, Some(DeliveryOutcome::Failed));
    assert_eq!(failed.entries.len(), 4, "each attempt is in the log: {:#?}", failed.entries);
    let log = engine.runbook_event_deliveries(r).await.expect("deliveries");
    assert!(receiver.at("/all").iter().all(|r| r.authorization == format!("Bearer {SECRET}")), "the token is sent");
    let logged = serde_json::to_string(&log).expect("JSON");
    assert!(logged.contains("[REDACTED]"), "the Authorization header is logged redacted: {logged}");
    assert!(!logged.contains(SECRET), "the token is never in the actions log");
    let delivered = log.iter().filter(|d| d.outcome == Some(DeliveryOutcome::Delivered)).count();
    assert_eq!(delivered, 6 + 3 + 1, "All, Only and Custom delivered, in R's actions log");
    assert!(
        engine
            .runbook_event_deliveries(s)
            .await
            .expect("deliveries")
            .iter()
            .all(|d| d.event_type.as_str() == "task.started")
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_receivers_in_order_filtered_and_failures_are_logged_on_sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    runs_and_filters(&fresh_sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_receivers_in_order_filtered_and_failures_are_logged_on_postgres() {
    if let Some(url) = fresh_postgres_url("event_integrations_filters").await {
        runs_and_filters(&url).await;
    }
}

/// A receiver that holds its request (its timeout minutes away) holds up no other event integration: another one gets
/// the run's next events meanwhile, the held one's later deliveries wait behind it (a receiver gets a runbook's events
/// in order), and once the receiver answers its delivery is recorded before shutdown returns.
async fn a_held_receiver_holds_up_no_other(url: &str) {
    let receiver = Receiver::start().await;
    let (held, arrival, release) = held_endpoint().await;
    let settings = EngineSettings { poll_interval: Duration::from_millis(50), ..EngineSettings::default() };
    let executor = ExecutorConfig { default_request_timeout: Duration::from_secs(300), ..ExecutorConfig::default() };
    let engine = open_engine_with(url, settings, executor).await;
    let running = engine.start();
    let files = [
        ("slow.yaml", event_integration("Slow", "task.started", "", &format!("{held}/slow"))),
        ("fast.yaml", event_integration("Fast", "task.started, task.finished", "", &format!("{}/fast", receiver.url))),
        (
            "r.yaml",
            "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A}\n  - {id: b, name: B, predecessors: [a]}\n"
                .to_owned(),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(name, text)| (*name, text.as_str())).collect();
    let r = engine.apply_definitions(&files).await.expect("definitions").runbooks[0];
    let user = Actor::with_roles([cutover_integrations_core::model::Role::Operator]);
    let command = |command: UserCommand| {
        let (engine, user) = (engine.clone(), user.clone());
        async move { engine.command(r, command, &user).await.expect("command") }
    };
    command(UserCommand::StartRunbook { mode: RunMode::Live }).await;
    command(UserCommand::StartTask { task: "a".into(), force: false }).await;
    tokio::time::timeout(Duration::from_secs(60), arrival)
        .await
        .expect("Slow's receiver gets task.started of a")
        .expect("the held endpoint runs");
    // Slow's receiver holds that request: the run goes on, and Fast gets every event of it.
    command(UserCommand::FinishTask { task: "a".into() }).await;
    command(UserCommand::StartTask { task: "b".into(), force: false }).await;
    command(UserCommand::FinishTask { task: "b".into() }).await;
    receiver.wait_until("Fast's four events while Slow's receiver holds its request", |all| all.len() == 4).await;
    let task = |kind: &str, task: &str| (r.0, kind.to_owned(), task.to_owned());
    assert_eq!(
        seen(&receiver, "/fast"),
        [task("task.started", "a"), task("task.finished", "a"), task("task.started", "b"), task("task.finished", "b")]
    );
    let slow = |log: &[cutover_integrations_core::DeliveryView]| -> Vec<(String, DeliveryStatus)> {
        log.iter()
            .filter(|d| d.event_integration.as_deref() == Some("Slow"))
            .map(|d| (d.task.clone().unwrap_or_default(), d.status))
            .collect()
    };
    let log = engine.runbook_event_deliveries(r).await.expect("deliveries");
    assert_eq!(
        slow(&log),
        [("a".to_owned(), DeliveryStatus::Due), ("b".to_owned(), DeliveryStatus::Due)],
        "a in flight, b behind it"
    );
    // Answered, then shut down: the answer is recorded before shutdown returns.
    release.send(()).expect("the held endpoint waits");
    running.shutdown().await;
    let log = engine.runbook_event_deliveries(r).await.expect("deliveries");
    let first = log.iter().find(|d| d.event_integration.as_deref() == Some("Slow")).expect("Slow's first delivery");
    assert_eq!((first.status, first.outcome), (DeliveryStatus::Done, Some(DeliveryOutcome::Delivered)), "{first:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_receiver_holds_up_no_other_event_integration_on_sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    a_held_receiver_holds_up_no_other(&fresh_sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_receiver_holds_up_no_other_event_integration_on_postgres() {
    if let Some(url) = fresh_postgres_url("event_integrations_held").await {
        a_held_receiver_holds_up_no_other(&url).await;
    }
}

/// Hostile receivers and addresses, each an event integration sending `task.started` with a token: a refused address
/// is never sent to, a body of NUL characters or of megabytes is recorded (capped), a redirect to another origin is
/// followed without the token (303) or not at all (307, which would resend the body), and the token is in no log.
async fn hostile_receivers(url: &str) {
    let receiver = Receiver::start().await;
    let elsewhere = Receiver::start().await;
    let settings = EngineSettings { poll_interval: Duration::from_millis(50), ..EngineSettings::default() };
    let engine = open_engine(url, settings).await;
    let running = engine.start();
    let (base, other) = (&receiver.url, &elsewhere.url);
    let token = format!("auth: {{type: token, token: {SECRET}}}\n");
    // (name, URL, outcome, what the attempts' log says)
    let cases = [
        (
            "Metadata",
            "http://169.254.169.254/latest/meta-data".to_owned(),
            DeliveryOutcome::Failed,
            "ssrf_blocked".to_owned(),
        ),
        ("Nul", format!("{base}/nul"), DeliveryOutcome::Delivered, r#""body":"ok\u0000\u0000nul\u0000""#.to_owned()),
        ("Huge", format!("{base}/huge"), DeliveryOutcome::Delivered, r#""body_truncated":true"#.to_owned()),
        (
            "SeeOther",
            format!("{base}/see-other?to={other}/landed"),
            DeliveryOutcome::Delivered,
            format!(r#""final_url":"{other}/landed""#),
        ),
        ("Temporary", format!("{base}/temporary?to={other}/resent"), DeliveryOutcome::Failed, "redirect".to_owned()),
    ];
    let mut files: Vec<(String, String)> = cases
        .iter()
        .map(|(name, url, ..)| (format!("{name}.yaml"), event_integration(name, "task.started", &token, url)))
        .collect();
    files.push(("r.yaml".to_owned(), "kind: runbook\nname: R\ntasks:\n  - {id: a, name: A}\n".to_owned()));
    let files: Vec<(&str, &str)> = files.iter().map(|(name, text)| (name.as_str(), text.as_str())).collect();
    let r = engine.apply_definitions(&files).await.expect("definitions").runbooks[0];
    let user = Actor::with_roles([cutover_integrations_core::model::Role::Operator]);
    engine.command(r, UserCommand::StartRunbook { mode: RunMode::Live }, &user).await.expect("start the run");
    engine.command(r, UserCommand::StartTask { task: "a".into(), force: false }, &user).await.expect("start a");
    let log = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let log = engine.runbook_event_deliveries(r).await.expect("deliveries");
            if log.len() == cases.len() && log.iter().all(|d| d.status == DeliveryStatus::Done) {
                return log;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every delivery is recorded");
    running.shutdown().await;
    let check = |name: &str, outcome: DeliveryOutcome, said: &str| {
        let delivery = log.iter().find(|d| d.event_integration.as_deref() == Some(name)).expect(name);
        let entries = serde_json::to_string(&delivery.entries).expect("JSON");
        assert_eq!(delivery.outcome, Some(outcome), "{name}: {entries}");
        assert!(entries.contains(said), "{name}'s log says {said}: {entries}");
        assert!(!entries.contains(SECRET), "{name}'s log holds no token");
        assert!(entries.len() < 256 * 1024, "{name}'s log is capped: {} bytes", entries.len());
    };
    for (name, _, outcome, said) in &cases {
        check(name, *outcome, said);
    }
    // The other origin got the 303's GET without the token, and nothing of the 307.
    let landed = elsewhere.at("/landed");
    assert_eq!(landed.len(), 1, "{landed:#?}");
    assert_eq!(landed[0].authorization, "", "no credentials cross to another origin");
    assert!(elsewhere.at("/resent").is_empty(), "a 307 to another origin is not followed");
    assert!(receiver.received.lock().expect("lock").iter().all(|r| r.authorization == format!("Bearer {SECRET}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_receivers_and_addresses_are_recorded_and_never_get_the_token_on_sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    hostile_receivers(&fresh_sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_receivers_and_addresses_are_recorded_and_never_get_the_token_on_postgres() {
    if let Some(url) = fresh_postgres_url("event_integrations_hostile").await {
        hostile_receivers(&url).await;
    }
}

/// `task.created`: one per task the runbook was created with and one per task added while planning, each once (a
/// task added before the creation was routed is not sent twice), in event order, before the run's events.
/// Tasks with 65-byte ids made with R besides a and b: about 39 KB of ids, listed in three parts.
const LONG_TASKS: usize = 600;

async fn every_task_is_created_once(url: &str) {
    let receiver = Receiver::start().await;
    let settings = EngineSettings { poll_interval: Duration::from_millis(50), ..EngineSettings::default() };
    let engine = open_engine(url, settings).await;
    let created = event_integration("Created", "task.created, task.started", "", &format!("{}/created", receiver.url));
    // a, b and enough tasks with long ids that their list is split into parts.
    let long: Vec<String> = (0..LONG_TASKS).map(|n| format!("{n:04}-{}", "x".repeat(60))).collect();
    let mut runbook =
        String::from("kind: runbook\nname: R\ntasks:\n  - {id: a, name: A}\n  - {id: b, name: B, predecessors: [a]}\n");
    for id in &long {
        let _ = writeln!(runbook, "  - {{id: '{id}', name: L}}");
    }
    let applied = engine
        .apply_definitions(&[("created.yaml", created.as_str()), ("r.yaml", runbook.as_str())])
        .await
        .expect("definitions");
    let r = applied.runbooks[0];
    // Added and edited before any engine routed the creation: the creation's event lists only a and b.
    engine.add_task(r, &serde_json::json!({"id": "c", "name": "C", "predecessors": ["b"]})).await.expect("add c");
    engine.add_task(r, &serde_json::json!({"name": "D"})).await.expect("add d");
    engine.edit_task(r, "a", &serde_json::json!({"name": "A2"})).await.expect("edit a");
    let logged = engine.events_after(0, Some(r), 100).await.expect("the log");
    let first: Value = serde_json::from_str(&logged[0].body).expect("JSON");
    assert_eq!(
        (&first["event"], &first["runbook"], &first["task_count"], &first["actor"]),
        (&Value::from("runbook_created"), &Value::from(r.0), &Value::from(2 + LONG_TASKS), &Value::from("user")),
        "the creation's event, written with the runbook: {first}"
    );
    // Then its tasks in bounded parts, in plan order (no logged event grows with the runbook).
    let mut listed = Vec::new();
    let mut parts = 0;
    for stored in &logged[1..] {
        let body: Value = serde_json::from_str(&stored.body).expect("JSON");
        if body["event"] != "tasks_created" {
            break;
        }
        assert!(stored.body.len() <= 20 * 1024, "a part of {} bytes", stored.body.len());
        assert_eq!((&body["runbook"], &body["actor"]), (&Value::from(r.0), &Value::from("user")));
        parts += 1;
        listed.extend(body["tasks"].as_array().expect("tasks").iter().map(|t| t.as_str().expect("id").to_owned()));
    }
    let made: Vec<String> = ["a", "b"].into_iter().map(str::to_owned).chain(long.iter().cloned()).collect();
    assert_eq!(listed, made, "every task made, once, in order");
    assert!(parts >= 3, "{parts} parts");
    let running = engine.start();
    let user = Actor::with_roles([cutover_integrations_core::model::Role::Operator]);
    engine.command(r, UserCommand::StartRunbook { mode: RunMode::Live }, &user).await.expect("start the runbook");
    engine.command(r, UserCommand::StartTask { task: "a".into(), force: false }, &user).await.expect("start a");
    receiver.wait_until("the task.started of a", |all| all.iter().any(|r| r.event_type() == "task.started")).await;
    // Every delivery of R is done: nothing more will arrive, so what arrived is all that was sent.
    let deliveries = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let log = engine.runbook_event_deliveries(r).await.expect("deliveries");
            if log.len() == 5 + LONG_TASKS && log.iter().all(|d| d.status == DeliveryStatus::Done) {
                return log;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("every delivery done");
    assert!(deliveries.iter().all(|d| d.outcome == Some(DeliveryOutcome::Delivered)));
    let task = |kind: &str, task: &str| (r.0, kind.to_owned(), task.to_owned());
    let mut expected: Vec<_> = made.iter().map(|id| task("task.created", id)).collect();
    expected.extend([task("task.created", "c"), task("task.created", "d"), task("task.started", "a")]);
    assert_eq!(seen(&receiver, "/created"), expected);
    let arrived = receiver.at("/created");
    let ids: Vec<i64> = arrived.iter().map(Received::event_id).collect();
    assert!(ids.windows(2).all(|pair| pair[0] <= pair[1]), "in event order: {ids:?}");
    assert_eq!(ids[0], ids[1], "a and b come from the creation's first part");
    let keys: std::collections::HashSet<&str> = arrived.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys.len(), arrived.len(), "one key per delivery");
    assert_eq!(arrived[0].body["change"], serde_json::json!({"event": "tasks_created"}), "without the list");
    let c = &arrived[made.len()];
    assert_eq!(c.body["task"]["name"], "C");
    assert_eq!(c.body["change"], serde_json::json!({"event": "task_added", "task": "c"}));
    // The event integration's latest deliveries, newest first (what the console shows).
    let latest = engine.event_integration_deliveries(applied.event_integrations[0], 2).await.expect("latest");
    let latest: Vec<(&str, Option<&str>, RunbookId)> =
        latest.iter().map(|d| (d.event_type.as_str(), d.task.as_deref(), d.runbook)).collect();
    assert_eq!(latest, [("task.started", Some("a"), r), ("task.created", Some("d"), r)]);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_created_or_added_is_sent_once_in_order_on_sqlite() {
    let dir = tempfile::tempdir().expect("temporary directory");
    every_task_is_created_once(&fresh_sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_task_created_or_added_is_sent_once_in_order_on_postgres() {
    if let Some(url) = fresh_postgres_url("event_integrations_created").await {
        every_task_is_created_once(&url).await;
    }
}

// ---- Crash recovery ----

const CHAINS: usize = 5;
const CHAIN_LENGTH: usize = 8;
const TASKS: usize = CHAINS * CHAIN_LENGTH;
const KILLS: usize = 4;
const LEASE: Duration = Duration::from_millis(500);

fn crash_definitions(receiver: &str) -> Vec<(String, String)> {
    let integration = format!(
        "kind: integration\nname: Sink\nactions:\n  - name: Post\n    settings: {{auto_start: true, \
         finish_task_on_success: true}}\n    request: {{method: POST, url: '{receiver}/hook'}}\n"
    );
    let events = event_integration("Audit", "task.started, task.finished", "", &format!("{receiver}/events"));
    let mut runbook = String::from("kind: runbook\nname: Crash\ntasks:\n");
    for chain in 0..CHAINS {
        for step in 0..CHAIN_LENGTH {
            let predecessors =
                if step > 0 { format!(", predecessors: [c{chain}-{}]", step - 1) } else { String::new() };
            let _ = writeln!(runbook, "  - {{id: c{chain}-{step}, name: S{step}, action: Sink/Post{predecessors}}}");
        }
    }
    vec![("sink.yaml".into(), integration), ("events.yaml".into(), events), ("crash.yaml".into(), runbook)]
}

/// The engine process: resumes (or creates and starts) the runbook and returns once it is complete and every
/// delivery is done. Without [`CHILD_DATABASE`] it returns at once.
#[test]
fn crash_child_process() {
    let (Ok(database), Ok(receiver)) = (std::env::var(CHILD_DATABASE), std::env::var(CHILD_RECEIVER)) else { return };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let settings =
            EngineSettings { lease: LEASE, poll_interval: Duration::from_millis(50), ..EngineSettings::default() };
        let engine = open_engine(&format!("sqlite://{database}"), settings).await;
        let running = engine.start();
        let mut events = engine.subscribe();
        let id = match engine.runbooks().await.expect("runbooks").first() {
            Some(existing) => existing.id,
            None => {
                let files = crash_definitions(&receiver);
                let files: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
                engine.apply_definitions(&files).await.expect("definitions").runbooks[0]
            }
        };
        if engine.runbook(id).await.expect("runbook").state.stage() == RunbookStage::Planning {
            engine
                .command(id, UserCommand::StartRunbook { mode: RunMode::Live }, &Actor::engine())
                .await
                .expect("start");
        }
        while engine.runbook(id).await.expect("runbook").state.stage() != RunbookStage::Complete {
            let _ = tokio::time::timeout(Duration::from_secs(1), events.recv()).await;
        }
        // Then until every delivery is done (the log is read again at each poll interval).
        loop {
            let log = engine.runbook_event_deliveries(id).await.expect("deliveries");
            if log.len() == 2 * TASKS && log.iter().all(|d| d.status == DeliveryStatus::Done) {
                break;
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), events.recv()).await;
        }
        running.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_sigkills_every_task_event_arrives_once_per_event_id_in_order() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("events.db");
    let mut random = rand::rng();
    let mut kills = 0;
    loop {
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["crash_child_process", "--exact", "--test-threads=1", "--nocapture"])
            .env(CHILD_DATABASE, &database)
            .env(CHILD_RECEIVER, &receiver.url)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the engine process");
        if kills == KILLS {
            let status = tokio::time::timeout(Duration::from_secs(120), child.wait()).await;
            let status = status.expect("the last engine finishes").expect("wait for the engine");
            assert!(status.success(), "the last engine exits cleanly: {status}");
            break;
        }
        let target = *receiver.count.borrow() + random.random_range(5..25);
        let reached = receiver.wait_until("progress", |all| all.len() >= target);
        tokio::select! {
            () = reached => {}
            status = child.wait() => {
                assert!(status.expect("wait").success(), "the engine exits cleanly when it finishes");
                break;
            }
        }
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("the killed engine is reaped");
        kills += 1;
    }
    assert!(kills >= 2, "the engine was killed mid-run {kills} times");

    let events = receiver.at("/events");
    // Each event id under one key, each key for one event id.
    let mut key_of: HashMap<i64, String> = HashMap::new();
    let mut id_of: HashMap<String, i64> = HashMap::new();
    for request in &events {
        let key = key_of.entry(request.event_id()).or_insert_with(|| request.key.clone());
        assert_eq!(*key, request.key, "event {} came with two keys", request.event_id());
        assert_eq!(*id_of.entry(request.key.clone()).or_insert(request.event_id()), request.event_id());
    }
    // Every task started and finished, the start first.
    let mut by_task: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    let mut first_seen: Vec<i64> = Vec::new();
    for request in &events {
        if !first_seen.contains(&request.event_id()) {
            first_seen.push(request.event_id());
            by_task.entry(request.task()).or_default().push((request.event_id(), request.event_type().to_owned()));
        }
    }
    assert_eq!(by_task.len(), TASKS, "every task's events arrived");
    for (task, seen) in &by_task {
        let kinds: Vec<&str> = seen.iter().map(|(_, kind)| kind.as_str()).collect();
        assert_eq!(kinds, ["task.started", "task.finished"], "{task}");
    }
    // First arrivals in event id order (one runbook): a delivery waits for the one before it.
    assert!(first_seen.windows(2).all(|pair| pair[0] < pair[1]), "in order: {first_seen:?}");
    let repeats = events.len() - first_seen.len();
    assert!(
        repeats <= kills,
        "at most the delivery in flight is sent again per kill: {repeats} repeats, {kills} kills"
    );
    eprintln!(
        "{TASKS} tasks, {} events delivered after {kills} kills; {repeats} repeats with their key",
        first_seen.len()
    );
}
