//! A loopback HTTP sink for engine tests: answers every `POST /hook` with 200 and records its `Idempotency-Key`, its
//! `User-Agent` and the runbook and task named in its JSON body (`{"runbook":"…","task":"…"}`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// One request the sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    /// The `Idempotency-Key` header.
    pub(crate) key: String,
    /// The `User-Agent` header.
    pub(crate) agent: String,
    /// The body's `runbook`.
    pub(crate) runbook: String,
    /// The body's `task`.
    pub(crate) task: String,
}

#[derive(Clone)]
struct Recorder {
    received: Arc<Mutex<Vec<Received>>>,
    count: Arc<watch::Sender<usize>>,
}

/// The running sink.
pub(crate) struct Sink {
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    recorder: Recorder,
}

impl Sink {
    /// Starts a sink on a free loopback port, on the current runtime.
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the sink");
        let url = format!("http://{}", listener.local_addr().expect("sink address"));
        let recorder = Recorder { received: Arc::default(), count: Arc::new(watch::channel(0).0) };
        let app = axum::Router::new().route("/hook", axum::routing::post(record)).with_state(recorder.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the sink runs") });
        Self { url, recorder }
    }

    /// Every request so far, in arrival order.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.recorder.received.lock().expect("sink lock").clone()
    }

    /// How many requests arrived so far.
    pub(crate) fn count(&self) -> usize {
        *self.recorder.count.borrow()
    }

    /// Waits until at least `count` requests arrived; false if `guard` passed first.
    pub(crate) async fn wait_for(&self, count: usize, guard: Duration) -> bool {
        let mut counter = self.recorder.count.subscribe();
        tokio::time::timeout(guard, counter.wait_for(|received| *received >= count)).await.is_ok()
    }
}

async fn record(State(recorder): State<Recorder>, headers: HeaderMap, body: Bytes) -> &'static str {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let received = Received {
        key: header("idempotency-key"),
        agent: header("user-agent"),
        runbook: field("runbook"),
        task: field("task"),
    };
    let total = {
        let mut all = recorder.received.lock().expect("sink lock");
        all.push(received);
        all.len()
    };
    recorder.count.send_replace(total);
    "ok"
}
