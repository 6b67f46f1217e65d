//! Runs every auth flow under a capturing `tracing` subscriber and searches the log and everything formatted (`Debug`
//! of every value, `Display` of every error) for every secret used: client secret, tokens, codes, PKCE verifiers,
//! passwords and API keys. Alone in its binary, so the global subscriber sees every event.

mod flows;

use flows::*;
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A `tracing` writer appending to a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_is_logged_or_formatted_in_any_flow() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this test binary");

    let mut t = Transcript::default();
    flow_authorization_code_round_trip(&mut t).await;
    flow_state_replay_and_mismatch(&mut t).await;
    flow_task_user_binding(&mut t).await;
    flow_client_credentials(&mut t).await;
    flow_refresh_before_expiry(&mut t).await;
    flow_refresh_after_unauthorized(&mut t).await;
    flow_concurrent_refresh(&mut t).await;
    flow_refresh_failure(&mut t).await;
    flow_slack_response_shape(&mut t).await;
    flow_static_providers(&mut t).await;

    let log = String::from_utf8(log.0.lock().expect("log").clone()).expect("utf-8 log");
    for expected in ["OAuth token refreshed", "needs re-authentication", "authorization completed", "rb-42"] {
        assert!(log.contains(expected), "the capture works: `{expected}` is logged\n{log}");
    }
    assert!(t.secrets.len() >= 30, "the scan knows the secrets of every flow ({})", t.secrets.len());
    assert!(t.formatted.iter().any(|text| text.contains("[REDACTED]")), "secret fields were formatted");
    for secret in &t.secrets {
        assert!(!log.contains(secret.as_str()), "secret `{secret}` appears in the log");
        for text in &t.formatted {
            assert!(!text.contains(secret.as_str()), "secret `{secret}` appears in formatted output: {text}");
        }
    }
}
