//! Shared helpers of the executor's integration tests: actions from JSON, renderers from closures, executors on a
//! manual clock that admit loopback (where mockito listens).

#![allow(dead_code, unreachable_pub)]

use cutover_integrations_http::{
    ExecutorConfig, FireContext, HttpExecutor, ManualTimer, OutboundPolicy, OutgoingRequest, PreparedAction,
    RequestPurpose, RequestRenderer, RetryPolicy,
};
use cutover_integrations_model::{Action, HttpMethod};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Renders requests with a closure, standing in for the template crate's renderer in tests that check modes rather
/// than templates.
pub struct FnRenderer<F>(pub F);

impl<F> RequestRenderer for FnRenderer<F>
where
    F: Fn(RequestPurpose, &Value) -> Result<OutgoingRequest, String> + Send + Sync,
{
    fn render(&self, purpose: RequestPurpose, context: Value) -> Result<OutgoingRequest, String> {
        (self.0)(purpose, &context)
    }
}

/// A request with no headers and no body.
pub fn request(method: HttpMethod, url: impl Into<String>) -> OutgoingRequest {
    OutgoingRequest { method, url: url.into(), headers: Vec::new(), body: None }
}

/// An action from its definition as JSON; `request.url` is a placeholder since renderers decide the URL.
pub fn action(definition: Value) -> Action {
    let mut definition = definition;
    let object = definition.as_object_mut().expect("an object");
    object.entry("name").or_insert(json!("Test action"));
    serde_json::from_value(definition).expect("a valid action")
}

/// Prepares `action` whose every request is rendered by `render`.
pub fn prepare<F>(action: &Action, render: F) -> PreparedAction
where
    F: Fn(RequestPurpose, &Value) -> Result<OutgoingRequest, String> + Send + Sync + 'static,
{
    PreparedAction::with_renderer(action, Arc::new(FnRenderer(render))).expect("a valid action")
}

/// Prepares `action` sending the same request every time.
pub fn prepare_fixed(action: &Action, fixed: OutgoingRequest) -> PreparedAction {
    prepare(action, move |_, _| Ok(fixed.clone()))
}

/// A configuration admitting loopback, with short timeouts and retries that are quick to run.
pub fn config() -> ExecutorConfig {
    ExecutorConfig {
        connect_timeout: Duration::from_secs(2),
        default_request_timeout: Duration::from_secs(5),
        max_request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            jitter: 0.0,
            max_retry_after: Duration::from_secs(120),
        },
        outbound: OutboundPolicy::allowing(["127.0.0.0/8".parse().unwrap()]),
        ..ExecutorConfig::default()
    }
}

/// The start of every manual clock.
pub fn start() -> Timestamp {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

/// An executor on a manual clock, with its clock.
pub fn executor_with(config: ExecutorConfig) -> (HttpExecutor, Arc<ManualTimer>) {
    let timer = Arc::new(ManualTimer::new(start()));
    (HttpExecutor::with_timer(config, timer.clone()).expect("an executor"), timer)
}

/// An executor on a manual clock admitting loopback.
pub fn executor() -> (HttpExecutor, Arc<ManualTimer>) {
    executor_with(config())
}

/// A fire context with ordinary template values.
pub fn fire() -> FireContext {
    FireContext::new(
        "fire-1",
        "rb-1",
        "task-1",
        json!({
            "CustomField": {"Change": "CHG001"},
            "Task": {"name": "Deploy"},
            "Runbook": {"name": "Release 42"},
            "SystemParameter": {},
        }),
    )
}

/// The number of seconds between two instants.
pub fn seconds_between(from: Timestamp, to: Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64()
}

/// A server that accepts connections and never answers: every request to it times out.
pub async fn silent_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    address
}

/// An address where nothing listens: connections are refused.
pub async fn closed_port() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    listener.local_addr().expect("an address")
}

/// The attempts of a log.
pub fn attempts(log: &cutover_integrations_http::FireLog) -> Vec<&cutover_integrations_http::AttemptRecord> {
    log.attempts().collect()
}

/// The value of a header of a recorded request.
pub fn sent_header<'a>(record: &'a cutover_integrations_http::AttemptRecord, name: &str) -> Option<&'a str> {
    record
        .request
        .as_ref()?
        .headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case(name))
        .map(|header| header.value.as_str())
}
