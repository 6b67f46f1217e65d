//! Metrics for `/metrics`, in the Prometheus text format, fed by the engine's events:
//!
//! - `cutover_fires_total{outcome}`: fires that ended, by outcome (`succeeded`, `failed`, `cancelled`, `not_sent`),
//!   counted by the engine as its commits land ([`Engine::ended_fires`]: exact, whether or not this listener keeps up);
//! - `cutover_fire_attempt_duration_seconds`: a histogram of request attempt durations, told by the engine as each
//!   fire step's attempts are recorded ([`Engine::observe_attempts`]: the actions log is not read back);
//! - `cutover_fires_queued`: fires due (integration status `pending`), the dispatcher's queue;
//! - `cutover_fires_running`: fires whose request is being sent (`running`);
//! - `cutover_fires_waiting`: fires waiting for a poll condition or a callback;
//! - `cutover_fires_by_integration_total{integration,outcome}`: the same ends per integration (admin-defined names:
//!   as many series as integrations, never per runbook or task);
//! - `cutover_http_requests_total{method,route,status}`, `cutover_http_request_duration_seconds{method,route}` and
//!   `cutover_http_requests_in_flight`: every request of the API and the console, by route template (`/api/v1/runbooks/{id}`,
//!   never the concrete path, so the label set stays bounded; `unmatched` for paths no route knows);
//! - `cutover_build_info{version}` and the `process_*` family (CPU seconds, resident and virtual memory, open file
//!   descriptors, start time), read from `/proc/self` where there is one.
//!
//! The gauges start from a scan of the runbooks that can have a fire under way (active and paused ones, read a page at
//! a time: runbooks in planning, complete or cancelled are never read) and follow the events; a listener that falls
//! behind scans again.
//! Durations are in seconds with microsecond resolution.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use cutover_integrations_core::model::{IntegrationStatus, RunbookStage};
use cutover_integrations_core::runbook::Event;
use cutover_integrations_core::store::{RunbookId, RunbookQuery};
use cutover_integrations_core::{EndedFires, Engine, EngineEvent};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, watch};

/// Upper bounds (seconds) of the attempt duration histogram's buckets.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How many runbooks a scan lists at a time.
const SCAN_PAGE: u32 = 200;

/// How many ended fires may wait for their integration to be read.
const ENDED_QUEUE: usize = 65_536;

/// At most this many ended fires are counted by integration together.
const DETAIL_BATCH: usize = 1024;

/// A fire that ended, as the listener hands it to the task that reads its details.
#[derive(Debug)]
struct EndedFire {
    runbook: RunbookId,
    task: String,
    outcome: &'static str,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
    http: Mutex<HttpInner>,
    in_flight: AtomicI64,
}

/// Request counts and latency histograms by (method, route template).
#[derive(Debug, Default)]
struct HttpInner {
    requests: BTreeMap<(&'static str, String, u16), u64>,
    durations: BTreeMap<(&'static str, String), Histogram>,
}

/// A histogram over [`BUCKETS`].
#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket, then `+Inf`: observations at or under the bound (not cumulative here).
    buckets: [u64; BUCKETS.len() + 1],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let bucket = BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(BUCKETS.len());
        self.buckets[bucket] += 1;
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, text: &mut String, name: &str, labels: &str) {
        let separator = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += count;
            let _ = writeln!(text, "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()];
        let _ = writeln!(text, "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {cumulative}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(text, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(text, "{name}_count{braces} {}", self.count);
    }
}

/// Counts a request and its latency by route template; mounted on the API and the console.
pub(crate) async fn track_requests(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    // Decremented when the request ends, however it ends (a dropped connection drops this future).
    let _in_flight = InFlight(&metrics.in_flight);
    let started = Instant::now();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let mut http = metrics.http.lock().unwrap_or_else(PoisonError::into_inner);
    *http.requests.entry((method, route.clone(), status)).or_default() += 1;
    http.durations.entry((method, route)).or_default().observe(seconds);
    response
}

struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The method as a label: the standard ones by name, anything else as `other` (a client cannot mint label values).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// Ended fires by (integration, outcome).
    fires_by_integration: BTreeMap<(String, &'static str), u64>,
    attempts: Histogram,
    /// Tasks with a fire under way, by their integration status.
    active: HashMap<(RunbookId, String), IntegrationStatus>,
}

impl Metrics {
    /// Metrics following `engine`'s events until `shutdown`.
    ///
    /// The listener only counts (no await per event), so it seldom falls behind the broadcast; what needs the
    /// runbook (an ended fire's integration) is read by a second task from a bounded queue of [`ENDED_QUEUE`] ends.
    /// When ends come faster than that for long, or the listener falls behind, those ends are left out of the
    /// per-integration counts, never out of `cutover_fires_total` (the engine's own count).
    pub(crate) fn spawn(engine: &Engine, mut shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let metrics = Arc::new(Self::default());
        // Held weakly: the engine outlives the metrics of a router that is dropped.
        let timed = Arc::downgrade(&metrics);
        engine.observe_attempts(Arc::new(move |seconds| {
            if let Some(metrics) = timed.upgrade() {
                metrics.lock().attempts.observe(seconds);
            }
        }));
        let listener = metrics.clone();
        let engine = engine.clone();
        let mut events = engine.subscribe();
        let (ended, mut to_detail) = mpsc::channel::<EndedFire>(ENDED_QUEUE);
        let detailer = metrics.clone();
        let detail_engine = engine.clone();
        tokio::spawn(async move {
            let mut ends = Vec::with_capacity(DETAIL_BATCH);
            while to_detail.recv_many(&mut ends, DETAIL_BATCH).await > 0 {
                detailer.detail(&detail_engine, &mut ends).await;
            }
        });
        tokio::spawn(async move {
            listener.scan(&engine).await;
            loop {
                let received = tokio::select! {
                    _ = shutdown.changed() => return,
                    received = events.recv() => received,
                };
                match received {
                    Ok(event) => {
                        if let Some(fire) = listener.observe(&event) {
                            // A full queue drops the details of this end (see above), not its count.
                            let _ = ended.try_send(fire);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => listener.scan(&engine).await,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        metrics
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rebuilds the gauges from the states of the runbooks that can have a fire under way: active and paused ones,
    /// listed a page at a time. Planned, complete and cancelled runbooks (most of a long-lived database) are not read.
    async fn scan(&self, engine: &Engine) {
        let mut active = HashMap::new();
        for stage in [RunbookStage::Active, RunbookStage::Paused] {
            let mut query = RunbookQuery { limit: SCAN_PAGE, stage: Some(stage), ..RunbookQuery::default() };
            loop {
                let Ok(page) = engine.runbook_page(&query).await else { return };
                for listing in &page.runbooks {
                    // Only the tasks with a fire under way are copied, not the runbook.
                    let Ok(tasks) = engine.tasks_with_integration_status(listing.id, ACTIVE).await else { continue };
                    active.extend(tasks.into_iter().map(|(task, status)| ((listing.id, task), status)));
                }
                match page.runbooks.last() {
                    Some(last) if page.more => query.after = Some(last.id),
                    _ => break,
                }
            }
        }
        self.lock().active = active;
    }

    /// Counts an event; returns the fire that ended with it, if one did.
    fn observe(&self, event: &EngineEvent) -> Option<EndedFire> {
        let Event::IntegrationStatusChanged { task, status, .. } = &event.event else { return None };
        let key = (event.runbook, task.clone());
        let mut inner = self.lock();
        if is_active(*status) {
            inner.active.insert(key, *status);
        } else {
            inner.active.remove(&key);
        }
        let outcome = EndedFires::outcome_name(*status)?;
        Some(EndedFire { runbook: event.runbook, task: task.clone(), outcome })
    }

    /// Counts ended fires by integration, emptying `ends`: the integrations of a runbook's tasks are read together
    /// from the engine's copy (a task's action does not change once its runbook runs), neither the runbook copied nor
    /// the store asked.
    async fn detail(&self, engine: &Engine, ends: &mut Vec<EndedFire>) {
        ends.sort_by_key(|end| end.runbook);
        for same_runbook in ends.chunk_by(|a, b| a.runbook == b.runbook) {
            let tasks: Vec<&str> = same_runbook.iter().map(|end| end.task.as_str()).collect();
            let Ok(integrations) = engine.task_integrations(same_runbook[0].runbook, &tasks).await else { continue };
            let mut inner = self.lock();
            for (end, integration) in same_runbook.iter().zip(integrations) {
                if let Some(integration) = integration {
                    *inner.fires_by_integration.entry((integration, end.outcome)).or_default() += 1;
                }
            }
        }
        ends.clear();
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self, engine: &Engine) -> String {
        let ended = engine.ended_fires();
        let inner = self.lock();
        let mut text = String::new();
        let _ = writeln!(text, "# HELP cutover_fires_total Fires that ended, by outcome.");
        let _ = writeln!(text, "# TYPE cutover_fires_total counter");
        for (outcome, count) in ended.by_outcome() {
            let _ = writeln!(text, "cutover_fires_total{{outcome=\"{outcome}\"}} {count}");
        }
        let _ =
            writeln!(text, "# HELP cutover_fires_by_integration_total Fires that ended, by integration and outcome.");
        let _ = writeln!(text, "# TYPE cutover_fires_by_integration_total counter");
        for ((integration, outcome), count) in &inner.fires_by_integration {
            let integration = label_value(integration);
            let _ = writeln!(
                text,
                "cutover_fires_by_integration_total{{integration=\"{integration}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        let _ = writeln!(text, "# HELP cutover_fire_attempt_duration_seconds Duration of request attempts of fires.");
        let _ = writeln!(text, "# TYPE cutover_fire_attempt_duration_seconds histogram");
        inner.attempts.render(&mut text, "cutover_fire_attempt_duration_seconds", "");
        let count = |wanted: IntegrationStatus| inner.active.values().filter(|status| **status == wanted).count();
        let _ = writeln!(text, "# HELP cutover_fires_queued Fires due, not yet sent (integration status pending).");
        let _ = writeln!(text, "# TYPE cutover_fires_queued gauge");
        let _ = writeln!(text, "cutover_fires_queued {}", count(IntegrationStatus::Pending));
        let _ = writeln!(
            text,
            "# HELP cutover_fires_running Fires whose request is being sent (integration status running)."
        );
        let _ = writeln!(text, "# TYPE cutover_fires_running gauge");
        let _ = writeln!(text, "cutover_fires_running {}", count(IntegrationStatus::Running));
        let _ = writeln!(text, "# HELP cutover_fires_waiting Fires waiting for a poll condition or a callback.");
        let _ = writeln!(text, "# TYPE cutover_fires_waiting gauge");
        let _ = writeln!(text, "cutover_fires_waiting {}", count(IntegrationStatus::Waiting));
        drop(inner);
        self.render_http(&mut text);
        render_build_and_process(&mut text);
        text
    }

    fn render_http(&self, text: &mut String) {
        let http = self.http.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writeln!(
            text,
            "# HELP cutover_http_requests_total HTTP requests answered, by method, route template and status."
        );
        let _ = writeln!(text, "# TYPE cutover_http_requests_total counter");
        for ((method, route, status), count) in &http.requests {
            let route = label_value(route);
            let _ = writeln!(
                text,
                "cutover_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        let _ = writeln!(
            text,
            "# HELP cutover_http_request_duration_seconds Time to answer HTTP requests, by method and route template."
        );
        let _ = writeln!(text, "# TYPE cutover_http_request_duration_seconds histogram");
        for ((method, route), histogram) in &http.durations {
            let labels = format!("method=\"{method}\",route=\"{}\"", label_value(route));
            histogram.render(text, "cutover_http_request_duration_seconds", &labels);
        }
        let _ = writeln!(text, "# HELP cutover_http_requests_in_flight HTTP requests being answered.");
        let _ = writeln!(text, "# TYPE cutover_http_requests_in_flight gauge");
        let _ = writeln!(text, "cutover_http_requests_in_flight {}", self.in_flight.load(Ordering::Relaxed));
    }
}

/// The integration statuses of a fire under way.
const ACTIVE: &[IntegrationStatus] =
    &[IntegrationStatus::Pending, IntegrationStatus::Running, IntegrationStatus::Waiting];

fn is_active(status: IntegrationStatus) -> bool {
    ACTIVE.contains(&status)
}

/// A label value in the text format: backslash, double quote and newline escaped.
fn label_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `cutover_build_info` and the standard `process_*` metrics, from `/proc/self` on Linux (absent elsewhere).
fn render_build_and_process(text: &mut String) {
    let _ = writeln!(text, "# HELP cutover_build_info The running build; always 1.");
    let _ = writeln!(text, "# TYPE cutover_build_info gauge");
    let _ = writeln!(text, "cutover_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    let Some(process) = crate::process_stats::read() else { return };
    let metrics: [(&str, &str, &str, f64); 5] = [
        (
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            process.cpu_seconds,
        ),
        ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", process.resident_bytes),
        ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", process.virtual_bytes),
        ("process_open_fds", "gauge", "Number of open file descriptors.", process.open_fds),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch in seconds.",
            process.start_time_seconds,
        ),
    ];
    for (name, kind, help, value) in metrics {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} {kind}");
        let _ = writeln!(text, "{name} {value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_integrations_core::UserCommand;
    use cutover_integrations_core::model::RunMode;
    use cutover_integrations_core::runbook::Actor;
    use cutover_integrations_test_support::fresh_sqlite_url;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const INTEGRATION: &str = "kind: integration\nname: Hooks\nactions:\n  - name: Post\n    settings: {auto_start: true}\n    \
                               request: {method: POST, url: 'http://127.0.0.1:9/hook'}\n";

    async fn engine(url: &str) -> Engine {
        Engine::builder().database_url(url).secret_key_base64(KEY).build().await.expect("engine")
    }

    /// A scan (at start, and after the listener fell behind) reads only the runbooks that can have a fire under way:
    /// of 41 runbooks, the one active, not the 40 in planning; and it finds that runbook's pending fire.
    #[tokio::test]
    async fn a_scan_reads_only_runbooks_with_work_under_way() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = fresh_sqlite_url(dir.path());
        let writer = engine(&url).await;
        writer.apply_definitions(&[("hooks.yaml", INTEGRATION)]).await.expect("integration");
        let mut ids = Vec::new();
        for n in 0..41 {
            let runbook =
                format!("kind: runbook\nname: Release {n}\ntasks:\n  - {{id: post, name: Post, action: Hooks/Post}}\n");
            ids.push(writer.apply_definitions(&[("release.yaml", &runbook)]).await.expect("runbook").runbooks[0]);
        }
        // Started without a dispatcher: its auto-start task's fire stays due.
        let start = UserCommand::StartRunbook { mode: RunMode::Live };
        writer.command(ids[7], start, &Actor::engine()).await.expect("started");
        drop(writer);

        let reader = engine(&url).await;
        assert_eq!(reader.cached().runbooks, 0);
        let metrics = Metrics::default();
        metrics.scan(&reader).await;
        let active: Vec<_> = metrics.lock().active.clone().into_iter().collect();
        assert_eq!(active, [((ids[7], "post".to_owned()), IntegrationStatus::Pending)]);
        assert_eq!(reader.cached().runbooks, 1, "only the active runbook was read");
        assert!(metrics.render(&reader).lines().any(|line| line == "cutover_fires_queued 1"));
    }
}
