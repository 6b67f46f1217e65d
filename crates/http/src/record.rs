//! The actions log record of a fire: every attempt's redacted request and response, errors, durations, a `curl` line.
//!
//! These types are what the store persists and the server's `actions-log` route returns, so they are plain serde data.
//! Nothing in them is secret: the executor redacts before it builds them.

use crate::ErrorKind;
use cutover_integrations_model::{ExecutionMode, FieldValue};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The actions log of one fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FireLog {
    /// The fire.
    pub fire_id: String,
    /// How the fire completes.
    pub mode: ExecutionMode,
    /// The `Idempotency-Key` of the fire's first request; retries reuse it.
    pub idempotency_key: String,
    /// Attempts and notes, in order.
    pub entries: Vec<LogEntry>,
    /// How the fire ended, once it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<FireResult>,
}

impl FireLog {
    /// An empty log for the fire `state` begins.
    pub fn for_fire(state: &crate::FireState) -> Self {
        Self {
            fire_id: state.fire_id.clone(),
            mode: state.mode,
            idempotency_key: state.idempotency_key.clone(),
            entries: Vec::new(),
            result: None,
        }
    }

    /// The attempts of the log, in order.
    pub fn attempts(&self) -> impl Iterator<Item = &AttemptRecord> {
        self.entries.iter().filter_map(|entry| match entry {
            LogEntry::Attempt(attempt) => Some(attempt.as_ref()),
            LogEntry::Note(_) => None,
        })
    }
}

/// One entry of an actions log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LogEntry {
    /// A request and what came of it.
    Attempt(Box<AttemptRecord>),
    /// Something that happened without a request: a callback arrived, a wait started, a deadline passed.
    Note(NoteRecord),
}

/// A request of a fire and what came of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// Which request of the fire this is.
    pub purpose: RequestPurpose,
    /// The poll number (1-based) of a poll request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<u32>,
    /// The attempt number (1-based) of this request; greater than 1 for retries.
    pub attempt: u32,
    /// When the attempt started.
    pub started_at: Timestamp,
    /// How long the attempt took, body included, in milliseconds.
    pub duration_ms: u64,
    /// The same in microseconds, for metrics (absent in records written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_us: Option<u64>,
    /// What was sent (absent when rendering failed before there was a request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestRecord>,
    /// What came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseRecord>,
    /// Why the attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AttemptError>,
    /// When the next attempt is due, if this one is retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<Timestamp>,
}

impl AttemptRecord {
    /// How long the attempt took, in seconds: to the microsecond when recorded so, else to the millisecond.
    pub fn duration_seconds(&self) -> f64 {
        match self.duration_us {
            Some(micros) => micros as f64 / 1_000_000.0,
            None => self.duration_ms as f64 / 1000.0,
        }
    }
}

/// Which request of a fire an attempt sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestPurpose {
    /// The action's request.
    Initial,
    /// A polling request.
    Poll,
    /// The cancel message to `notify_webhook_on_cancel`.
    CancelNotice,
}

/// A request as the log shows it, secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The headers, in the order sent.
    pub headers: Vec<HeaderRecord>,
    /// The body, up to the log cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Whether the body was cut at the log cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
    /// A `curl` command line that sends the same request, secrets shown as `[REDACTED]`.
    pub curl: String,
}

/// A response as the log shows it, secrets redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseRecord {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Vec<HeaderRecord>,
    /// The body as text (lossy UTF-8), up to the log cap.
    pub body: String,
    /// Whether the body was cut, at the log cap or at the read cap.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub body_truncated: bool,
    /// The URL that answered, when redirects led elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
}

/// One header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderRecord {
    /// The name as sent or received.
    pub name: String,
    /// The value, redacted when secret.
    pub value: String,
}

/// Why an attempt, or a fire, failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// A sentence for humans, secrets redacted, such as "Connection failed: connection refused".
    pub reason: String,
}

/// A log entry without a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRecord {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub message: String,
}

/// How a fire ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FireResult {
    /// Whether it succeeded.
    pub succeeded: bool,
    /// Why it failed; absent on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<AttemptError>,
    /// Custom field values from response mapping or the callback, by field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldValue>,
}

impl FireResult {
    /// A success with mapped fields.
    pub fn success(fields: BTreeMap<String, FieldValue>) -> Self {
        Self { succeeded: true, failure: None, fields }
    }

    /// A failure.
    pub fn failure(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self { succeeded: false, failure: Some(AttemptError { kind, reason: reason.into() }), fields: BTreeMap::new() }
    }

    /// The end of a fire a user cancelled (the engine stops stepping it and records this).
    pub fn cancelled() -> Self {
        Self::failure(ErrorKind::Cancelled, "Cancelled by a user")
    }
}
