//! Retries: which failures are retried, backoff and `Retry-After`, the same `Idempotency-Key` on every retry.

mod common;

use common::*;
use cutover_integrations_http::{
    ErrorKind, Executor, FireLog, RetryPolicy, StepOutcome, Timer, random_idempotency_key,
};
use cutover_integrations_model::HttpMethod;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Remembers the `Idempotency-Key` of every request a mock sees.
#[derive(Clone, Default)]
struct SeenKeys(Arc<Mutex<Vec<String>>>);

impl SeenKeys {
    fn matcher(&self) -> impl Fn(&mockito::Request) -> bool + Send + Sync + 'static {
        let seen = self.0.clone();
        move |request| {
            let key = request.header("idempotency-key").first().and_then(|value| value.to_str().ok()).unwrap_or("");
            seen.lock().unwrap().push(key.to_owned());
            true
        }
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn failure_kind(log: &FireLog) -> Option<ErrorKind> {
    log.result.as_ref().and_then(|result| result.failure.as_ref()).map(|failure| failure.kind)
}

fn get_action() -> cutover_integrations_model::Action {
    action(json!({"request": {"method": "POST", "url": "x"}}))
}

#[tokio::test]
async fn retry_after_seconds_is_honoured_and_the_idempotency_key_is_kept() {
    let mut server = mockito::Server::new_async().await;
    // mockito asks every mock's matcher about every request, so one matcher sees all three.
    let seen = SeenKeys::default();
    let busy = server
        .mock("POST", "/hook")
        .match_request(seen.matcher())
        .with_status(503)
        .with_header("retry-after", "7")
        .expect(1)
        .create_async()
        .await;
    let limited = server
        .mock("POST", "/hook")
        .with_status(429)
        .with_header("retry-after", "Tue, 01 Jan 2030 00:00:20 GMT")
        .expect(1)
        .create_async()
        .await;
    let ok = server.mock("POST", "/hook").with_status(200).expect(1).create_async().await;
    let prepared = prepare_fixed(&get_action(), request(HttpMethod::Post, format!("{}/hook", server.url())));
    let (executor, timer) = executor();

    let log = executor.run_to_completion(&prepared, &fire(), None).await;

    busy.assert_async().await;
    limited.assert_async().await;
    ok.assert_async().await;
    assert!(log.result.as_ref().unwrap().succeeded, "{log:?}");
    let waits: Vec<f64> = timer.sleeps().iter().map(|at| seconds_between(start(), *at)).collect();
    assert_eq!(waits, vec![7.0, 20.0], "7 seconds, then until the HTTP date");
    let keys = seen.all();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|key| *key == log.idempotency_key), "{keys:?} vs {}", log.idempotency_key);
    let attempts = attempts(&log);
    assert_eq!(attempts.iter().map(|attempt| attempt.attempt).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(attempts[0].retry_at.map(|at| seconds_between(start(), at)), Some(7.0));
    assert_eq!(attempts[0].error.as_ref().unwrap().reason, "HTTP 503 Service Unavailable");
    assert_eq!(attempts[1].error.as_ref().unwrap().reason, "HTTP 429 Too Many Requests");
    assert!(attempts[2].error.is_none() && attempts[2].retry_at.is_none());
}

#[tokio::test]
async fn server_errors_back_off_exponentially_then_give_up() {
    let mut server = mockito::Server::new_async().await;
    let seen = SeenKeys::default();
    let failing =
        server.mock("POST", "/hook").match_request(seen.matcher()).with_status(500).expect(4).create_async().await;
    let mut config = config();
    config.retry = RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(5),
        jitter: 0.0,
        max_retry_after: Duration::from_secs(60),
    };
    let prepared = prepare_fixed(&get_action(), request(HttpMethod::Post, format!("{}/hook", server.url())));
    let (executor, timer) = executor_with(config);

    let log = executor.run_to_completion(&prepared, &fire(), None).await;

    failing.assert_async().await;
    assert_eq!(failure_kind(&log), Some(ErrorKind::Status));
    assert_eq!(
        log.result.unwrap().failure.unwrap().reason,
        "HTTP 500 Internal Server Error (gave up after 4 attempts)"
    );
    let waits: Vec<f64> = timer.sleeps().iter().map(|at| seconds_between(start(), *at)).collect();
    assert_eq!(waits, vec![2.0, 6.0, 11.0], "2 s, 4 s, then capped at 5 s");
    let keys = seen.all();
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|key| *key == keys[0]));
}

#[tokio::test]
async fn jitter_keeps_the_backoff_within_its_window() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/hook").with_status(502).create_async().await;
    let mut config = config();
    config.retry = RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_secs(10),
        max_backoff: Duration::from_secs(60),
        jitter: 0.5,
        ..config.retry
    };
    let prepared = prepare_fixed(&get_action(), request(HttpMethod::Post, format!("{}/hook", server.url())));
    for _ in 0..5 {
        let (executor, timer) = executor_with(config.clone());
        executor.run_to_completion(&prepared, &fire(), None).await;
        let wait = seconds_between(start(), timer.sleeps()[0]);
        assert!((5.0..=10.0).contains(&wait), "{wait}");
    }
}

#[tokio::test]
async fn client_errors_are_final() {
    let mut server = mockito::Server::new_async().await;
    for status in [400, 401, 403, 404, 409, 422] {
        let mock = server.mock("POST", "/final").with_status(status).expect(1).create_async().await;
        let prepared = prepare_fixed(&get_action(), request(HttpMethod::Post, format!("{}/final", server.url())));
        let (executor, timer) = executor();

        let log = executor.run_to_completion(&prepared, &fire(), None).await;

        mock.assert_async().await;
        mock.remove_async().await;
        assert_eq!(failure_kind(&log), Some(ErrorKind::Status), "{status}");
        assert_eq!(attempts(&log).len(), 1, "{status}");
        assert!(timer.sleeps().is_empty(), "{status}");
    }
}

#[tokio::test]
async fn request_timeouts_and_408_are_retried() {
    let mut server = mockito::Server::new_async().await;
    let timeout = server.mock("POST", "/hook").with_status(408).expect(1).create_async().await;
    let ok = server.mock("POST", "/hook").with_status(204).expect(1).create_async().await;
    let prepared = prepare_fixed(&get_action(), request(HttpMethod::Post, format!("{}/hook", server.url())));

    let log = executor().0.run_to_completion(&prepared, &fire(), None).await;

    timeout.assert_async().await;
    ok.assert_async().await;
    assert!(log.result.unwrap().succeeded);

    let silent = silent_server().await;
    let mut config = config();
    config.max_request_timeout = Duration::from_millis(200);
    config.retry.max_attempts = 2;
    let prepared = prepare_fixed(&get_action(), request(HttpMethod::Post, format!("http://{silent}/")));
    let log = executor_with(config).0.run_to_completion(&prepared, &fire(), None).await;
    assert_eq!(failure_kind(&log), Some(ErrorKind::Timeout));
    assert_eq!(attempts(&log).len(), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_limit_ends_the_retries() {
    let mut server = mockito::Server::new_async().await;
    let mock =
        server.mock("POST", "/hook").with_status(503).with_header("retry-after", "3600").expect(1).create_async().await;
    let prepared = prepare_fixed(&get_action(), request(HttpMethod::Post, format!("{}/hook", server.url())));

    let log = executor().0.run_to_completion(&prepared, &fire(), None).await;

    mock.assert_async().await;
    assert_eq!(failure_kind(&log), Some(ErrorKind::Status));
    assert_eq!(attempts(&log).len(), 1);
}

#[tokio::test]
async fn step_returns_the_retry_time_instead_of_sleeping() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/hook").with_status(503).with_header("retry-after", "42").create_async().await;
    let prepared = prepare_fixed(&get_action(), request(HttpMethod::Post, format!("{}/hook", server.url())));
    let (executor, timer) = executor();
    let state = executor.begin(&prepared, &fire(), random_idempotency_key());
    let key = state.idempotency_key.clone();

    let step = executor.step(&prepared, &fire(), state).await;

    let StepOutcome::WaitUntil { at, state } = step.outcome else { panic!("{:?}", step.outcome) };
    assert_eq!(seconds_between(timer.now(), at), 42.0);
    assert_eq!(state.idempotency_key, key);
    assert!(timer.sleeps().is_empty(), "the step itself does not wait");
    assert_eq!(serde_json::to_value(&state.phase).unwrap(), json!({"phase": "sending", "attempt": 2}));
}
