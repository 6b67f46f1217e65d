//! Auth type `standard_webhooks` on the wire: a fire retried after a 503 is signed twice with one `webhook-id`, and
//! an independent implementation (the `standardwebhooks` package from PyPI) accepts both signatures.
//!
//! The Python check runs when `python3` can import `standardwebhooks`; otherwise it prints `skipped: …` and passes,
//! unless `CUTOVER_REQUIRE_PYTHON_TOOLS=1` (set by `.ci/run`, which installs the package) makes it fail.

mod common;

use common::*;
use cutover_integrations_auth::Clock;
use cutover_integrations_auth::{
    AuthConfig, Authenticator, AuthenticatorSettings, Cipher, FireSubject, InMemoryCredentialStore, Key, KeyId, KeyRing,
};
use cutover_integrations_http::{FireContext, PreparedAction};
use cutover_integrations_model::{AuthSettings, SecretValue};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::process::Command;
use std::sync::{Arc, Mutex};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A clock that moves 90 seconds after each reading.
#[derive(Debug)]
struct TickingClock {
    now: Mutex<Timestamp>,
}

impl Clock for TickingClock {
    fn now(&self) -> Timestamp {
        let mut now = self.now.lock().unwrap();
        let current = *now;
        *now = current + SignedDuration::from_secs(90);
        current
    }
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    idempotency_key: String,
    body: String,
}

#[tokio::test]
async fn retries_keep_the_id_and_an_independent_verifier_accepts_every_signature() {
    let received = Arc::new(Mutex::new(Vec::<Received>::new()));
    let mut server = mockito::Server::new_async().await;
    let record = |status: usize| {
        let received = Arc::clone(&received);
        move |request: &mockito::Request| {
            let header = |name: &str| {
                request.header(name).first().and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
            };
            received.lock().unwrap().push(Received {
                id: header("webhook-id"),
                timestamp: header("webhook-timestamp"),
                signature: header("webhook-signature"),
                idempotency_key: header("idempotency-key"),
                body: String::from_utf8_lossy(request.body().unwrap()).into_owned(),
            });
            format!("{{\"status\": {status}}}").into_bytes()
        }
    };
    let unavailable = server
        .mock("POST", "/hooks")
        .with_status(503)
        .with_body_from_request(record(503))
        .expect(1)
        .create_async()
        .await;
    let accepted = server
        .mock("POST", "/hooks")
        .with_status(200)
        .with_body_from_request(record(200))
        .expect(1)
        .create_async()
        .await;

    // The auth clock starts at the wall clock (the verifier checks timestamps against its own) and moves 90 seconds
    // each time it is read, that is each attempt.
    let clock = Arc::new(TickingClock { now: Mutex::new(Timestamp::now()) });
    let authenticator = Authenticator::new(
        Arc::new(InMemoryCredentialStore::new(Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::generate()))))),
        reqwest::Client::new(),
        clock.clone(),
        AuthenticatorSettings::new("https://cutover.example/api/v1/oauth/callback".parse().unwrap()),
    );
    let settings = AuthSettings::StandardWebhooks { secret: SecretValue::new("{{SystemParameter['hook_secret']}}") };
    let config = AuthConfig::resolve(&settings, |_: &SecretValue| Ok::<_, String>(SecretString::from(SECRET))).unwrap();
    let subject = FireSubject { action: "a".into(), runbook: "rb-1".into(), task: "task-1".into(), user: None };
    let definition = action(json!({"request": {
        "method": "POST",
        "url": "{{SystemParameter.base}}/hooks",
        "payload": "{\"event\": \"task.started\", \"task\": \"{{Task.name}}\"}",
    }}));
    let prepared = PreparedAction::compile(&definition).unwrap();
    let fire = FireContext::new(
        "fire-1",
        "rb-1",
        "task-1",
        json!({"SystemParameter": {"base": server.url()}, "Task": {"name": "Deploy"}}),
    )
    .with_auth(authenticator.provider(config), subject);

    let log = executor().0.run_to_completion(&prepared, &fire, None).await;
    assert!(log.result.as_ref().unwrap().succeeded, "{log:?}");

    unavailable.assert_async().await;
    accepted.assert_async().await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "{received:?}");
    let (before, after) = (&received[0], &received[1]);
    assert!(!before.id.is_empty());
    assert_eq!(before.id, before.idempotency_key, "the id is the fire's idempotency key");
    assert_eq!(after.id, before.id, "a retry keeps the id");
    assert_eq!(
        after.timestamp.parse::<i64>().unwrap() - before.timestamp.parse::<i64>().unwrap(),
        90,
        "each attempt has its own timestamp"
    );
    assert_ne!(after.signature, before.signature);
    assert_eq!(before.body, r#"{"event": "task.started", "task": "Deploy"}"#);

    // The actions log shows the id and timestamp, never the signature or the secret.
    let log = serde_json::to_string(&log).unwrap();
    for hidden in [&before.signature[3..], &after.signature[3..], "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] {
        assert!(!log.contains(hidden), "{hidden} in {log}");
    }
    assert!(log.contains(&before.id), "the id is not a secret");

    for message in &received {
        verify_with_standardwebhooks(message);
    }
}

/// Verifies one message with the `standardwebhooks` package, or explains why it cannot.
fn verify_with_standardwebhooks(message: &Received) {
    const SCRIPT: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
message = json.load(sys.stdin)
Webhook(message["secret"]).verify(message["body"], message["headers"], json_parse=False)
print("verified")
"#;
    let required = std::env::var("CUTOVER_REQUIRE_PYTHON_TOOLS").is_ok_and(|value| value == "1");
    let available = Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        assert!(!required, "CUTOVER_REQUIRE_PYTHON_TOOLS=1 but python3 cannot import `standardwebhooks`");
        println!("skipped: python3 with the `standardwebhooks` package is not available");
        return;
    }
    let input: Value = json!({
        "secret": SECRET,
        "body": message.body,
        "headers": {
            "webhook-id": message.id,
            "webhook-timestamp": message.timestamp,
            "webhook-signature": message.signature,
        },
    });
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.to_string().as_bytes()).unwrap();
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "verified",
        "standardwebhooks refused {message:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
