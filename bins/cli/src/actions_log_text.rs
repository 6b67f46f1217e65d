//! The actions log as text for humans, shared by `cutover run` and `cutover task log`: each fire of a task, each
//! attempt with its request (method, URL, and a `curl` line that sends the same request, secrets already redacted by
//! the engine), the response status or the error, and notes.

use cutover_integrations_core::FireLogView;
use cutover_integrations_core::http::{AttemptRecord, LogEntry, RequestPurpose};
use serde::Deserialize;
use std::fmt::Write as _;

/// How much of a response body the text shows, in characters.
const BODY_PREVIEW: usize = 200;

/// One fire, whichever side it came from: the engine in this process or a server's JSON.
pub(crate) struct FireView<'a> {
    number: u32,
    idempotency_key: &'a str,
    /// How the fire ended (`succeeded`, `failed`, `not_sent`, `cancelled`), or where it is (`due`, `waiting`).
    state: String,
    entries: &'a [LogEntry],
}

impl<'a> From<&'a FireLogView> for FireView<'a> {
    fn from(fire: &'a FireLogView) -> Self {
        Self {
            number: fire.number,
            idempotency_key: &fire.idempotency_key,
            state: fire
                .outcome
                .map_or_else(|| crate::progress::snake(&fire.status), |outcome| outcome.as_str().to_owned()),
            entries: &fire.entries,
        }
    }
}

/// A fire as a server's actions-log route returns it: the engine's [`FireLogView`] as JSON.
#[derive(Debug, Deserialize)]
pub(crate) struct FireDocument {
    number: u32,
    idempotency_key: String,
    status: String,
    #[serde(default)]
    outcome: Option<String>,
    entries: Vec<LogEntry>,
}

impl<'a> From<&'a FireDocument> for FireView<'a> {
    fn from(fire: &'a FireDocument) -> Self {
        Self {
            number: fire.number,
            idempotency_key: &fire.idempotency_key,
            state: fire.outcome.clone().unwrap_or_else(|| fire.status.clone()),
            entries: &fire.entries,
        }
    }
}

/// The log of one task's fires, one block per fire.
pub(crate) fn task_log<'a>(task: &str, fires: impl IntoIterator<Item = FireView<'a>>) -> String {
    let mut text = String::new();
    for fire in fires {
        let _ =
            writeln!(text, "{task} fire {} ({}), Idempotency-Key {}", fire.number, fire.state, fire.idempotency_key);
        for entry in fire.entries {
            match entry {
                LogEntry::Attempt(attempt) => attempt_text(&mut text, attempt),
                LogEntry::Note(note) => {
                    let _ = writeln!(text, "  note {}: {}", note.at, note.message);
                }
            }
        }
    }
    text
}

fn attempt_text(text: &mut String, attempt: &AttemptRecord) {
    let purpose = match (attempt.purpose, attempt.poll) {
        (RequestPurpose::Initial, _) => "request".to_owned(),
        (RequestPurpose::Poll, Some(poll)) => format!("poll {poll}"),
        (RequestPurpose::Poll, None) => "poll".to_owned(),
        (RequestPurpose::CancelNotice, _) => "cancel notice".to_owned(),
    };
    let target = attempt
        .request
        .as_ref()
        .map(|request| format!("{} {}", request.method, request.url))
        .unwrap_or_else(|| "(no request was built)".to_owned());
    let outcome = match (&attempt.response, &attempt.error) {
        (_, Some(error)) => format!("failed: {}", error.reason),
        (Some(response), None) => format!("{} in {}ms", response.status, attempt.duration_ms),
        (None, None) => "not sent (rehearsal)".to_owned(),
    };
    let _ = writeln!(text, "  {purpose}, attempt {}: {target} -> {outcome}", attempt.attempt);
    if let Some(request) = &attempt.request {
        let _ = writeln!(text, "    {}", request.curl);
    }
    if let Some(response) = attempt.response.as_ref().filter(|response| !response.body.is_empty()) {
        let body: String = response.body.chars().take(BODY_PREVIEW).collect::<String>().replace('\n', " ");
        let cut = if response.body.chars().count() > BODY_PREVIEW || response.body_truncated { " …" } else { "" };
        let _ = writeln!(text, "    response body: {body}{cut}");
    }
    if let Some(retry_at) = attempt.retry_at {
        let _ = writeln!(text, "    retry at {retry_at}");
    }
}
