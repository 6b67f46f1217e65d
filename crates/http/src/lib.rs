//! The HTTP executor: what happens when an integration action fires.
//!
//! # Driving a fire
//!
//! The engine owns durability, so the executor never holds a fire hostage in memory. A fire is a [`FireState`] (serde,
//! free of secrets: fire id, `Idempotency-Key`, attempt and poll numbers, the first response for `{{Response…}}`,
//! deadlines as wall-clock timestamps) that the engine stores, and [`Executor::step`] moves it on by at most one
//! request:
//!
//! - [`StepOutcome::Done`]: success or failure, with mapped custom field values;
//! - [`StepOutcome::WaitUntil`]: call `step` again after a time (a retry backoff, a polling interval);
//! - [`StepOutcome::AwaitCallback`]: the third party will report through the callback URL; hand its report to
//!   [`Executor::complete_callback`], or call `step` after the deadline to fail the fire.
//!
//! Each step also returns its [`LogEntry`]s, which the engine appends to the fire's actions log. A step never sleeps;
//! [`HttpExecutor::run_to_completion`] is the convenience that does (on the executor's [`Timer`]), for simple
//! embedders and tests. [`ManualTimer`] makes minutes of backoff and polling pass instantly.
//!
//! The [`FireContext`] (template values, secrets to redact, the callback ticket, the auth provider) is supplied
//! again to every step rather than stored, because it holds secrets.
//!
//! # Preparing an action
//!
//! [`PreparedAction::compile`] compiles the action's request, polling and cancel-webhook templates with the template
//! crate and parses its response paths, once per action version. Credentials are not rendered from templates: the
//! fire's [`FireAuth`] (an auth crate provider) applies them to every attempt and reports what it added, which the log
//! then hides; on a 401 the provider may refresh and the request is sent once more.
//!
//! # Execution modes
//!
//! - `fire_and_forget`: success if and only if the status is 2xx.
//! - `sync`: `response.success_statuses` (2xx when empty), then `failure_when` (any holds: failure), `success_when`
//!   (all must hold), then `map` (a path that matches nothing fails the fire with kind `mapping`).
//! - `polling`: the first request is judged like `sync`; its JSON body becomes `Response` in the polling templates;
//!   then one poll per `interval_seconds`: `fail_when` fails, `complete_when` (all; empty means any 2xx) completes and
//!   maps, otherwise poll again until `max_attempts` polls (kind `polls_exhausted`) or `timeout_seconds` (kind
//!   `timeout`).
//! - `callback`: the first request is judged like `sync`, then the fire waits until `callback.timeout_seconds`.
//!   [`CallbackAuthority`] mints the `{{Callback.url}}` and `{{Callback.token}}` (an HMAC of the fire id, so it
//!   survives restarts without being stored) and verifies a presented token in constant time.
//!
//! Paths are RFC 9535 JSONPath (`$.result.number`) or Cutover's dotted form (`result.number`, `items[0].id`).
//!
//! # Retries and idempotency
//!
//! Transport errors (refused, reset, timed out), 408, 429 and 5xx are retried with exponential backoff and jitter
//! ([`RetryPolicy`]); a `Retry-After` (seconds or HTTP date) replaces the backoff, and one longer than
//! [`RetryPolicy::max_retry_after`] ends the retries. Other statuses are final. Every request carries
//! `Idempotency-Key`: the fire's key on the action's request and all its retries, `{key}-poll-{n}` on poll `n`,
//! `{key}-cancel` on the cancel notice (distinct keys, so a server that deduplicates does not answer a poll with the
//! cached answer to the first request). A key the template sets itself is kept. On a 401 the auth provider may
//! refresh its credentials; the request is then sent once more.
//!
//! # Outbound guard (SSRF)
//!
//! [`OutboundPolicy`] refuses loopback, private, link-local, CGNAT, multicast, unspecified, IPv4-mapped IPv6, cloud
//! metadata and other reserved addresses unless an allow-list CIDR contains them. Names are resolved by a reqwest
//! resolver that hands the connector only admitted addresses (so the checked address is the one connected to);
//! literal addresses are checked before sending. Redirects are followed by the executor, not by reqwest, so that
//! every hop is checked and a hop to another origin drops every credential header. Refusals fail with kind
//! `ssrf_blocked`. No proxy is ever used.
//!
//! # The actions log
//!
//! Each attempt records the request (method, URL, headers, body), the response (status, headers, body up to
//! [`ExecutorConfig::log_body_limit`]) or the error ([`ErrorKind`] and a sentence), its start and duration, and a
//! `curl` line. Everything is redacted first ([`Redaction`]): `Authorization`, `Cookie`, `X-Api-Key` and the headers
//! and query parameters the auth provider reports are hidden by name; secret values (credentials, secret system
//! parameters, the callback token) are hidden wherever they appear, raw, JSON-escaped or percent-encoded.
//!
//! # Context headers, cancel notices, rehearsals
//!
//! With `include_context`, every request carries `X-Cutover-Runbook-Id` and `X-Cutover-Task-Id`, and a JSON object
//! payload gains `cutover_context` (`runbook`, `task`, `action`, `fire`). [`Executor::notify_cancel`] sends the cancel
//! message to `notify_webhook_on_cancel` (its templates, or a default JSON message) one attempt per call, saying when
//! a retry is due. [`Executor::preview`] renders and records the request without sending it, for rehearsals that do
//! not execute (`not_sent`).
//!
//! # Limits
//!
//! Nothing waits forever: connect timeout, a total timeout per attempt (the action's `timeout_seconds`, capped by
//! [`ExecutorConfig::max_request_timeout`]), a redirect limit, and a cap on the response body read
//! ([`ExecutorConfig::response_body_limit`]). All requests share one reqwest client, hence one connection pool.

mod callback;
mod config;
mod error;
mod executor;
mod fire;
mod outbound;
mod prepared;
mod record;
mod redaction;
mod response_path;
mod retry;
mod timer;
mod transport;

pub use callback::{CallbackAuthority, CallbackReport, CallbackStatus, CallbackTicket};
pub use config::{ExecutorConfig, RetryPolicy};
pub use error::{ErrorKind, HttpError};
pub use executor::{CancelNotice, Executor, HttpExecutor, random_idempotency_key};
pub use fire::{FireAuth, FireContext, FirePhase, FireState, Step, StepOutcome};
pub use outbound::{AddressClass, OutboundPolicy, OutboundRefusal};
pub use prepared::{OutgoingRequest, PreparedAction, RequestRenderer};
pub use record::{
    AttemptError, AttemptRecord, FireLog, FireResult, HeaderRecord, LogEntry, NoteRecord, RequestPurpose,
    RequestRecord, ResponseRecord,
};
pub use redaction::{REDACTED, Redaction};
pub use response_path::{FieldMapping, ResponseCondition, ResponsePath};
pub use timer::{ManualTimer, SystemTimer, Timer};
