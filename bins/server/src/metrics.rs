//! Metrics for `/metrics`, in the Prometheus text format, fed by the engine's events:
//!
//! - `cutover_fires_total{outcome}`: fires that ended, by outcome (`succeeded`, `failed`, `cancelled`, `not_sent`);
//! - `cutover_fire_attempt_duration_seconds`: a histogram of request attempt durations, read from the actions log of
//!   each fire when it ends;
//! - `cutover_fires_queued`: fires due or being sent (integration status `pending`), the dispatcher's queue;
//! - `cutover_fires_waiting`: fires waiting for a poll condition or a callback.
//!
//! The gauges start from a scan of every runbook and follow the events; a listener that falls behind scans again.

use cutover_integrations_core::http::LogEntry;
use cutover_integrations_core::model::IntegrationStatus;
use cutover_integrations_core::runbook::Event;
use cutover_integrations_core::store::RunbookId;
use cutover_integrations_core::{Engine, EngineEvent};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{broadcast, watch};

/// Upper bounds (seconds) of the attempt duration histogram's buckets.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The server's metrics.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    fires: BTreeMap<&'static str, u64>,
    /// Per bucket of [`BUCKETS`], then `+Inf`: attempts at or under the bound (not cumulative here).
    buckets: [u64; BUCKETS.len() + 1],
    attempt_count: u64,
    attempt_seconds: f64,
    /// Tasks with a fire under way, by their integration status.
    active: HashMap<(RunbookId, String), IntegrationStatus>,
}

impl Metrics {
    /// Metrics following `engine`'s events until `shutdown`.
    pub(crate) fn spawn(engine: &Engine, mut shutdown: watch::Receiver<bool>) -> Arc<Self> {
        let metrics = Arc::new(Self::default());
        let listener = metrics.clone();
        let engine = engine.clone();
        let mut events = engine.subscribe();
        tokio::spawn(async move {
            listener.scan(&engine).await;
            loop {
                let received = tokio::select! {
                    _ = shutdown.changed() => return,
                    received = events.recv() => received,
                };
                match received {
                    Ok(event) => listener.observe(&engine, &event).await,
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

    /// Rebuilds the gauges from every runbook's state.
    async fn scan(&self, engine: &Engine) {
        let Ok(runbooks) = engine.runbooks().await else { return };
        let mut active = HashMap::new();
        for summary in runbooks {
            let Ok(view) = engine.runbook(summary.id).await else { continue };
            for task in view.state.tasks() {
                let status = task.state.integration_status();
                if is_active(status) {
                    active.insert((summary.id, task.plan.id.clone()), status);
                }
            }
        }
        self.lock().active = active;
    }

    async fn observe(&self, engine: &Engine, event: &EngineEvent) {
        let Event::IntegrationStatusChanged { task, fire, status, .. } = &event.event else { return };
        let key = (event.runbook, task.clone());
        let outcome = {
            let mut inner = self.lock();
            if is_active(*status) {
                inner.active.insert(key, *status);
            } else {
                inner.active.remove(&key);
            }
            let outcome = outcome_name(*status);
            if let Some(outcome) = outcome {
                *inner.fires.entry(outcome).or_default() += 1;
            }
            outcome
        };
        if outcome.is_none() || *status == IntegrationStatus::NotSent {
            return;
        }
        let Ok(fires) = engine.task_actions_log(event.runbook, task).await else { return };
        let durations: Vec<u64> = fires
            .iter()
            .filter(|logged| logged.number == fire.0)
            .flat_map(|logged| &logged.entries)
            .filter_map(|entry| match entry {
                LogEntry::Attempt(attempt) => Some(attempt.duration_ms),
                LogEntry::Note(_) => None,
            })
            .collect();
        let mut inner = self.lock();
        for duration in durations {
            let seconds = duration as f64 / 1000.0;
            let bucket = BUCKETS.iter().position(|bound| seconds <= *bound).unwrap_or(BUCKETS.len());
            inner.buckets[bucket] += 1;
            inner.attempt_count += 1;
            inner.attempt_seconds += seconds;
        }
    }

    /// The Prometheus text exposition of every metric.
    pub(crate) fn render(&self) -> String {
        let inner = self.lock();
        let mut text = String::new();
        let _ = writeln!(text, "# HELP cutover_fires_total Fires that ended, by outcome.");
        let _ = writeln!(text, "# TYPE cutover_fires_total counter");
        for outcome in ["succeeded", "failed", "cancelled", "not_sent"] {
            let count = inner.fires.get(outcome).copied().unwrap_or_default();
            let _ = writeln!(text, "cutover_fires_total{{outcome=\"{outcome}\"}} {count}");
        }
        let _ = writeln!(text, "# HELP cutover_fire_attempt_duration_seconds Duration of request attempts of fires.");
        let _ = writeln!(text, "# TYPE cutover_fire_attempt_duration_seconds histogram");
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&inner.buckets) {
            cumulative += count;
            let _ = writeln!(text, "cutover_fire_attempt_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += inner.buckets[BUCKETS.len()];
        let _ = writeln!(text, "cutover_fire_attempt_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(text, "cutover_fire_attempt_duration_seconds_sum {}", inner.attempt_seconds);
        let _ = writeln!(text, "cutover_fire_attempt_duration_seconds_count {}", inner.attempt_count);
        let count = |wanted: IntegrationStatus| inner.active.values().filter(|status| **status == wanted).count();
        let _ = writeln!(text, "# HELP cutover_fires_queued Fires due or being sent (integration status pending).");
        let _ = writeln!(text, "# TYPE cutover_fires_queued gauge");
        let _ = writeln!(text, "cutover_fires_queued {}", count(IntegrationStatus::Pending));
        let _ = writeln!(text, "# HELP cutover_fires_waiting Fires waiting for a poll condition or a callback.");
        let _ = writeln!(text, "# TYPE cutover_fires_waiting gauge");
        let _ = writeln!(text, "cutover_fires_waiting {}", count(IntegrationStatus::Waiting));
        text
    }
}

fn is_active(status: IntegrationStatus) -> bool {
    matches!(status, IntegrationStatus::Pending | IntegrationStatus::Running | IntegrationStatus::Waiting)
}

fn outcome_name(status: IntegrationStatus) -> Option<&'static str> {
    match status {
        IntegrationStatus::Succeeded => Some("succeeded"),
        IntegrationStatus::Failed => Some("failed"),
        IntegrationStatus::Cancelled => Some("cancelled"),
        IntegrationStatus::NotSent => Some("not_sent"),
        IntegrationStatus::None
        | IntegrationStatus::Pending
        | IntegrationStatus::Running
        | IntegrationStatus::Waiting => None,
    }
}
