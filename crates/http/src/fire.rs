//! A fire as the engine drives it: what it fires with ([`FireContext`]), where it is ([`FireState`], persisted
//! between steps), and what a step produced ([`Step`]).

use crate::CallbackTicket;
use crate::record::{FireResult, LogEntry};
use cutover_integrations_auth::{AuthProvider, FireSubject};
use cutover_integrations_model::{ExecutionMode, FieldValue};
use jiff::Timestamp;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// What a fire renders and authenticates with; the engine supplies it to every step.
///
/// It holds secrets, so it is never persisted as it is: the engine rebuilds it from the store (where secrets are
/// encrypted) when it continues a fire.
#[derive(Clone)]
pub struct FireContext {
    /// The fire id (new for every refire).
    pub fire_id: String,
    /// The runbook id, for `X-Cutover-Runbook-Id` and `cutover_context`.
    pub runbook_id: String,
    /// The task id, for `X-Cutover-Task-Id` and `cutover_context`.
    pub task_id: String,
    /// The template roots: `CustomField`, `Task`, `Runbook`, `SystemParameter`, as a JSON object.
    pub values: Value,
    /// Values that must never appear in the actions log: secret system parameters, credentials.
    pub secrets: Vec<SecretString>,
    /// The callback URL and token of a callback fire (`{{Callback.url}}`, `{{Callback.token}}`).
    pub callback: Option<CallbackTicket>,
    /// The credentials every request of the fire carries.
    pub auth: Option<FireAuth>,
}

/// An auth provider and the fire it authenticates for (which selects the OAuth token).
#[derive(Debug, Clone)]
pub struct FireAuth {
    /// Applies credentials and refreshes them after a 401.
    pub provider: Arc<dyn AuthProvider>,
    /// The action, runbook, task and user of the fire.
    pub subject: FireSubject,
}

impl fmt::Debug for FireContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FireContext")
            .field("fire_id", &self.fire_id)
            .field("runbook_id", &self.runbook_id)
            .field("task_id", &self.task_id)
            .field("secrets", &self.secrets.len())
            .field("callback", &self.callback)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl FireContext {
    /// A context with template `values` and no secrets.
    pub fn new(
        fire_id: impl Into<String>,
        runbook_id: impl Into<String>,
        task_id: impl Into<String>,
        values: Value,
    ) -> Self {
        Self {
            fire_id: fire_id.into(),
            runbook_id: runbook_id.into(),
            task_id: task_id.into(),
            values,
            secrets: Vec::new(),
            callback: None,
            auth: None,
        }
    }

    /// Adds a value to redact from the log.
    pub fn with_secret(mut self, secret: impl Into<String>) -> Self {
        self.secrets.push(SecretString::from(secret.into()));
        self
    }

    /// Authenticates every request with `provider`, for `subject`.
    pub fn with_auth(mut self, provider: Arc<dyn AuthProvider>, subject: FireSubject) -> Self {
        self.auth = Some(FireAuth { provider, subject });
        self
    }

    /// Sets the callback URL and token.
    pub fn with_callback(mut self, ticket: CallbackTicket) -> Self {
        self.callback = Some(ticket);
        self
    }
}

/// Where a fire is: everything needed to continue it in another process. Serde-serialisable, free of secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FireState {
    /// The fire id.
    pub fire_id: String,
    /// How the fire completes.
    pub mode: ExecutionMode,
    /// The `Idempotency-Key` of the fire's request, the same on every retry and re-send.
    pub idempotency_key: String,
    /// When the fire began.
    pub started_at: Timestamp,
    /// Custom field values mapped so far (from the first response of a polling or callback fire).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, FieldValue>,
    /// What the next step does.
    pub phase: FirePhase,
}

/// What the next step of a fire does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum FirePhase {
    /// Send the action's request; `attempt` is the 1-based number of the attempt to send.
    Sending {
        /// The attempt to send.
        attempt: u32,
    },
    /// Send a poll.
    Polling {
        /// The first response's JSON body, `{{Response…}}` in polling templates.
        response: Value,
        /// The 1-based number of the poll to send.
        poll: u32,
        /// The 1-based attempt of that poll.
        attempt: u32,
        /// When polling gives up, if `polling.timeout_seconds` is set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<Timestamp>,
    },
    /// Wait for the third party's callback.
    AwaitingCallback {
        /// When the fire fails for want of a callback.
        deadline: Timestamp,
    },
}

/// What one step of a fire produced: the outcome, and the log entries to append.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What the engine does next.
    pub outcome: StepOutcome,
    /// Attempts and notes of this step, to append to the fire's log.
    pub entries: Vec<LogEntry>,
}

/// What the engine does after a step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    /// The fire is over.
    Done(FireResult),
    /// Call `step` again with `state` once `at` has passed (a retry backoff, a polling interval).
    WaitUntil {
        /// When to continue.
        at: Timestamp,
        /// The state to continue from.
        state: FireState,
    },
    /// The request was accepted; the fire waits for the third party to call back, until `deadline`. Hand the report
    /// to `complete_callback`, or call `step` after the deadline to fail the fire.
    AwaitCallback {
        /// When the fire fails for want of a callback.
        deadline: Timestamp,
        /// The state to continue from.
        state: FireState,
    },
}

impl StepOutcome {
    /// The result, when the fire is over.
    pub fn result(&self) -> Option<&FireResult> {
        match self {
            Self::Done(result) => Some(result),
            _ => None,
        }
    }
}
