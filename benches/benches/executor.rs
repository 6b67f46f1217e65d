//! One fire-and-forget fire through the executor against a bare reqwest POST, both to the same loopback server.
//!
//! The executor side does everything a real fire does: render the action's templates (URL, a header, a JSON payload
//! with custom fields), apply a bearer token through the auth provider, check the address against the outbound guard,
//! send with an `Idempotency-Key`, read the response, and build the redacted log record with its `curl` line. The
//! baseline sends the same POST (same URL, body and headers, already written out) with a plain reqwest client and
//! reads the response. Both share one tokio runtime and one axum server on 127.0.0.1, and both keep their connections
//! alive, so the ratio is the executor's own overhead over an HTTP round trip on loopback. The two sides are measured
//! interleaved (see `paired`), which keeps the ratio steady on a busy machine.

use criterion::{Criterion, criterion_group, criterion_main};
use cutover_integrations_auth::{AuthProvider, FireSubject, TokenAuth};
use cutover_integrations_http::{ExecutorConfig, FireContext, HttpExecutor, OutboundPolicy, PreparedAction};
use cutover_integrations_model::Action;
use secrecy::SecretString;
use serde_json::json;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts the loopback server: `POST /hook` answers 200 with a small JSON body.
fn start_server(runtime: &tokio::runtime::Runtime) -> SocketAddr {
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let address = listener.local_addr().expect("an address");
        let app = axum::Router::new().route("/hook", axum::routing::post(|| async { r#"{"ok":true}"# }));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the server runs") });
        address
    })
}

fn action() -> PreparedAction {
    let action: Action = serde_json::from_value(json!({
        "name": "Post to a channel",
        "request": {
            "method": "POST",
            "url": "{{SystemParameter.base}}/hook",
            "headers": {"Content-Type": "application/json", "X-Channel": "{{CustomField['Slack Channel']}}"},
            "payload": r#"{"channel": "{{CustomField['Slack Channel']}}", "text": "{{CustomField['Slack Message']}}", "task": "{{Task.name}}"}"#,
            "execution_mode": "fire_and_forget",
        },
    }))
    .expect("a valid action");
    PreparedAction::compile(&action).expect("valid templates")
}

fn fire(base: &str) -> FireContext {
    let provider: Arc<dyn AuthProvider> = Arc::new(TokenAuth::new("Bearer", SecretString::from("xoxb-bench-token")));
    let subject = FireSubject { action: "a".into(), runbook: "rb".into(), task: "t".into(), user: None };
    FireContext::new(
        "fire-bench",
        "rb",
        "t",
        json!({
            "CustomField": {"Slack Channel": "#release", "Slack Message": "Release 42 starts"},
            "Task": {"name": "Announce the start"},
            "Runbook": {"name": "Release 42"},
            "SystemParameter": {"base": base, "signing": "s3cret-signing-key"},
        }),
    )
    .with_secret("s3cret-signing-key")
    .with_auth(provider, subject)
}

fn executor_against_bare_reqwest(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let address = start_server(&runtime);
    let base = format!("http://{address}");
    let config = ExecutorConfig {
        outbound: OutboundPolicy::allowing(["127.0.0.0/8".parse().expect("a CIDR")]),
        ..ExecutorConfig::default()
    };
    let executor = HttpExecutor::new(config).expect("an executor");
    let prepared = action();
    let fire = fire(&base);
    let client = reqwest::Client::new();
    let url = format!("{base}/hook");
    let body = r##"{"channel": "#release", "text": "Release 42 starts", "task": "Announce the start"}"##;

    let check = runtime.block_on(executor.run_to_completion(&prepared, &fire, None));
    assert!(check.result.as_ref().is_some_and(|result| result.succeeded), "{check:?}");

    let bare_post = || async {
        let response = client
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Channel", "#release")
            .header("Authorization", "Bearer xoxb-bench-token")
            .header("Idempotency-Key", "5f0c6a4e-1f7e-4d43-9d0e-3b2f0f6f8a11")
            .body(body)
            .send()
            .await
            .expect("a response");
        let status = response.status();
        let bytes = response.bytes().await.expect("a body");
        black_box((status, bytes));
    };
    let executor_fire = || async { black_box(executor.run_to_completion(&prepared, &fire, None).await) };

    // Each measurement alternates the two sides, one request each, and keeps the time of its own side only, so that
    // load from other processes on a shared machine weighs on both sides alike instead of on whichever ran later.
    let paired = |measure_executor: bool, iterations: u64| {
        runtime.block_on(async {
            let mut own = Duration::ZERO;
            for _ in 0..iterations {
                let started = Instant::now();
                bare_post().await;
                let bare = started.elapsed();
                let started = Instant::now();
                executor_fire().await;
                let fired = started.elapsed();
                own += if measure_executor { fired } else { bare };
            }
            own
        })
    };

    let mut group = c.benchmark_group("fire_and_forget");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("bare_reqwest_post", |b| b.iter_custom(|iterations| paired(false, iterations)));
    group.bench_function("executor_fire", |b| b.iter_custom(|iterations| paired(true, iterations)));
    // Not part of the ratio: the executor's CPU work alone (render, redact, record) without the round trip.
    group.bench_function("executor_preview_no_send", |b| {
        let state = cutover_integrations_http::Executor::begin(&executor, &prepared, &fire, "bench-preview".to_owned());
        b.iter(|| black_box(cutover_integrations_http::Executor::preview(&executor, &prepared, &fire, &state)))
    });
    group.finish();
}

criterion_group!(benches, executor_against_bare_reqwest);
criterion_main!(benches);
