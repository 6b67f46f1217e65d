//! The executor: the [`Executor`] trait the engine drives fires through, and [`HttpExecutor`], its reqwest
//! implementation with the four execution modes, retries, and the actions log.

use crate::callback::{CallbackReport, CallbackStatus};
use crate::fire::{FireContext, FirePhase, FireState, Step, StepOutcome};
use crate::prepared::{OutgoingRequest, PreparedAction, ResponseRules};
use crate::record::{
    AttemptError, AttemptRecord, FireLog, FireResult, HeaderRecord, LogEntry, NoteRecord, RequestPurpose,
    RequestRecord, ResponseRecord,
};
use crate::redaction::Redaction;
use crate::response_path::ResponseCondition;
use crate::retry::{delay_before_retry, is_retryable_status, parse_retry_after};
use crate::timer::{SystemTimer, Timer};
use crate::transport::{
    RedirectRules, Transport, TransportFailure, WireRequest, WireResponse, check_allowed_host, curl_line, header_map,
    reqwest_method,
};
use crate::{ErrorKind, ExecutorConfig, HttpError};
use async_trait::async_trait;
use cutover_integrations_auth::{AppliedCredentials, AuthError, OutgoingRequest as AuthRequest, UnauthorizedOutcome};
use cutover_integrations_model::{ExecutionMode, FieldValue};
use jiff::{SignedDuration, Timestamp};
use rand::Rng;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use url::Url;

/// Drives fires step by step, so the engine can persist a fire's [`FireState`] between steps and continue it in
/// another process.
///
/// A step sends at most one request and never sleeps: backoff and polling intervals come back as
/// [`StepOutcome::WaitUntil`], callback waits as [`StepOutcome::AwaitCallback`].
#[async_trait]
pub trait Executor: Send + Sync {
    /// The state of a new fire of `action`, sent with `idempotency_key` as its `Idempotency-Key` (on every retry and
    /// re-send; polls and cancel notices derive theirs from it). The engine passes the key it stored with the fire;
    /// [`random_idempotency_key`] makes one for a fire nobody stores.
    fn begin(&self, action: &PreparedAction, fire: &FireContext, idempotency_key: String) -> FireState;

    /// Takes the next step of a fire: sends its request or poll, or notices that a callback deadline passed.
    async fn step(&self, action: &PreparedAction, fire: &FireContext, state: FireState) -> Step;

    /// Applies a third party's callback report to a fire that awaits one.
    fn complete_callback(
        &self,
        action: &PreparedAction,
        fire: &FireContext,
        state: FireState,
        report: CallbackReport,
    ) -> Result<Step, HttpError>;

    /// Sends attempt `attempt` of the cancel message to the action's `notify_webhook_on_cancel`; `None` when the
    /// action has none.
    async fn notify_cancel(
        &self,
        action: &PreparedAction,
        fire: &FireContext,
        state: &FireState,
        attempt: u32,
    ) -> Option<CancelNotice>;

    /// The request a fire would send, rendered and redacted but not sent (a rehearsal without
    /// `execute_in_rehearsal`: integration status `not_sent`).
    fn preview(&self, action: &PreparedAction, fire: &FireContext, state: &FireState) -> AttemptRecord;
}

/// What came of one attempt to deliver a cancel message.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelNotice {
    /// The attempt (two when credentials were refreshed after a 401), for the fire's log.
    pub entries: Vec<LogEntry>,
    /// Whether the webhook accepted the message (2xx).
    pub delivered: bool,
    /// When to send the next attempt, if the failure is worth retrying.
    pub retry_at: Option<Timestamp>,
}

/// The reqwest executor: one shared client (connection pool), the SSRF guard, retries, and the actions log.
#[derive(Debug, Clone)]
pub struct HttpExecutor {
    transport: Transport,
    /// The client for outbound calls other than fires (OAuth token requests).
    auxiliary: reqwest::Client,
    config: ExecutorConfig,
    timer: Arc<dyn Timer>,
}

impl HttpExecutor {
    /// An executor on the system clock.
    pub fn new(config: ExecutorConfig) -> Result<Self, HttpError> {
        Self::with_timer(config, Arc::new(SystemTimer))
    }

    /// An executor on `timer`, which decides what "now" is and how `run_to_completion` waits.
    pub fn with_timer(config: ExecutorConfig, timer: Arc<dyn Timer>) -> Result<Self, HttpError> {
        let auxiliary = config
            .outbound
            .guarded_client_builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.max_request_timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|error| HttpError::Client { reason: error.to_string() })?;
        Ok(Self { transport: Transport::new(&config)?, auxiliary, config, timer })
    }

    /// The configuration.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// A client for outbound calls other than fires, such as OAuth token requests, under the same outbound policy
    /// and limits: names resolve only to admitted addresses, redirects to refused addresses fail, no proxy, and every
    /// request has a total timeout (`max_request_timeout`). The literal host of a first request is not checked by
    /// reqwest: check it with [`OutboundPolicy::check_url`](crate::OutboundPolicy::check_url) before sending.
    pub fn client(&self) -> reqwest::Client {
        self.auxiliary.clone()
    }

    /// Runs a fire from beginning to end in this process, waiting on the executor's timer between steps.
    ///
    /// A callback fire waits for a report on `callbacks` until its deadline; without a channel it waits for the
    /// deadline and fails. For simple embedders and tests; the engine drives fires with [`Executor::step`] instead.
    pub async fn run_to_completion(
        &self,
        action: &PreparedAction,
        fire: &FireContext,
        mut callbacks: Option<&mut mpsc::Receiver<CallbackReport>>,
    ) -> FireLog {
        let mut state = self.begin(action, fire, random_idempotency_key());
        let mut log = FireLog::for_fire(&state);
        loop {
            let step = self.step(action, fire, state).await;
            log.entries.extend(step.entries);
            match step.outcome {
                StepOutcome::Done(result) => {
                    log.result = Some(result);
                    return log;
                }
                StepOutcome::WaitUntil { at, state: next } => {
                    self.timer.sleep_until(at).await;
                    state = next;
                }
                StepOutcome::AwaitCallback { deadline, state: waiting } => {
                    let report = match callbacks.as_deref_mut() {
                        Some(receiver) => tokio::select! {
                            biased;
                            report = receiver.recv() => report,
                            () = self.timer.sleep_until(deadline) => None,
                        },
                        None => {
                            self.timer.sleep_until(deadline).await;
                            None
                        }
                    };
                    state = match report {
                        Some(report) => match self.complete_callback(action, fire, waiting.clone(), report) {
                            Ok(step) => {
                                log.entries.extend(step.entries);
                                match step.outcome {
                                    StepOutcome::Done(result) => {
                                        log.result = Some(result);
                                        return log;
                                    }
                                    StepOutcome::WaitUntil { state, .. } | StepOutcome::AwaitCallback { state, .. } => {
                                        state
                                    }
                                }
                            }
                            Err(_) => waiting,
                        },
                        None => {
                            // The channel closed or the deadline passed: the next step decides.
                            self.timer.sleep_until(deadline).await;
                            waiting
                        }
                    };
                }
            }
        }
    }

    fn now(&self) -> Timestamp {
        self.timer.now()
    }

    fn note(&self, message: impl Into<String>) -> LogEntry {
        LogEntry::Note(NoteRecord { at: self.now(), message: message.into() })
    }

    /// When the attempt after `failed_attempt` is due, or `None` when the retries are over.
    fn retry_at(&self, failed_attempt: u32, retry_after: Option<Duration>) -> Option<Timestamp> {
        let random = rand::rng().random::<f64>();
        let delay = delay_before_retry(&self.config.retry, failed_attempt, retry_after, random)?;
        Some(self.now() + signed(delay))
    }

    /// Renders, authenticates, sends and records one attempt; on a 401 that the auth provider answers by refreshing
    /// its credentials, authenticates and sends once more (both sends are recorded).
    async fn exchange(
        &self,
        action: &PreparedAction,
        fire: &FireContext,
        state: &FireState,
        attempt: AttemptSpec<'_>,
    ) -> Exchange {
        let mut exchange = self.exchange_once(action, fire, state, &attempt).await;
        let Some(auth) = &fire.auth else { return exchange };
        let unauthorized = exchange.response.as_ref().is_some_and(|response| response.status == 401);
        let Some(applied) = exchange.applied.as_ref().filter(|_| unauthorized) else { return exchange };
        match auth.provider.on_unauthorized(&auth.subject, applied).await {
            Ok(UnauthorizedOutcome::Retry) => {
                let mut retried = self.exchange_once(action, fire, state, &attempt).await;
                retried.earlier.push(exchange.record);
                retried
            }
            Ok(UnauthorizedOutcome::GiveUp) => exchange,
            Err(error) => {
                let reason = format!("Credentials were refused and could not be refreshed: {error}");
                exchange.record.error = Some(AttemptError { kind: ErrorKind::Auth, reason: reason.clone() });
                exchange.failure = Some(TransportFailure::new(ErrorKind::Auth, reason));
                exchange.response = None;
                exchange
            }
        }
    }

    async fn exchange_once(
        &self,
        action: &PreparedAction,
        fire: &FireContext,
        state: &FireState,
        attempt: &AttemptSpec<'_>,
    ) -> Exchange {
        let started_at = self.now();
        let clock = Instant::now();
        let mut redaction = redaction_for(fire);
        let mut exchange = Exchange {
            record: AttemptRecord {
                purpose: attempt.purpose,
                poll: attempt.poll,
                attempt: attempt.number,
                started_at,
                duration_ms: 0,
                duration_us: None,
                request: None,
                response: None,
                error: None,
                retry_at: None,
            },
            response: None,
            failure: None,
            applied: None,
            earlier: Vec::new(),
            redaction: Redaction::default(),
        };
        let prepared = match self.build_request(action, fire, state, attempt, &mut redaction) {
            Ok(wire) => self.authenticate(fire, wire, &mut redaction).await,
            Err(failure) => Err(failure),
        };
        let wire = match prepared {
            Ok((wire, applied)) => {
                exchange.applied = applied;
                wire
            }
            Err(failure) => {
                exchange.fail_with(redact_failure(failure, &redaction));
                return exchange;
            }
        };
        exchange.record.request = Some(self.request_record(&wire, &redaction));
        let timeout = self.config.request_timeout(action.timeout_seconds);
        let is_secret_header =
            |name: &str, value: &str| redaction.is_secret_header(name) || redaction.holds_secret(value);
        let rules = RedirectRules {
            policy: action.redirects,
            allowed_hosts: &action.allowed_hosts,
            is_secret_header: &is_secret_header,
        };
        let result = self.transport.send(&wire, timeout, &rules).await;
        let elapsed = clock.elapsed();
        exchange.record.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        exchange.record.duration_us = Some(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
        match result {
            Ok(response) => {
                exchange.record.response = Some(self.response_record(&response, &redaction));
                exchange.response = Some(response);
            }
            Err(failure) => exchange.fail_with(redact_failure(failure, &redaction)),
        }
        exchange.redaction = redaction;
        exchange
    }

    /// Applies the fire's credentials, and teaches the redaction what they added.
    async fn authenticate(
        &self,
        fire: &FireContext,
        wire: WireRequest,
        redaction: &mut Redaction,
    ) -> Result<(WireRequest, Option<AppliedCredentials>), TransportFailure> {
        let Some(auth) = &fire.auth else { return Ok((wire, None)) };
        let WireRequest { method, url, headers, body } = wire;
        let mut request = AuthRequest::new(reqwest_method(method), url);
        request.headers = headers;
        request.body = body;
        let applied = auth.provider.apply(&auth.subject, &mut request).await.map_err(|error| {
            let retryable = matches!(error, AuthError::TokenEndpointUnavailable { .. });
            TransportFailure { kind: ErrorKind::Auth, reason: format!("Credentials unavailable: {error}"), retryable }
        })?;
        for name in applied.headers() {
            redaction.add_header(name.as_str());
        }
        for name in applied.query_params() {
            redaction.add_query_parameter(name);
        }
        redaction.add_credentials(applied.secrets().iter().map(|secret| secret.expose_secret()));
        Ok((WireRequest { method, url: request.url, headers: request.headers, body: request.body }, Some(applied)))
    }

    /// Renders the request and adds what every request carries: context, `Idempotency-Key`, a content type.
    fn build_request(
        &self,
        action: &PreparedAction,
        fire: &FireContext,
        state: &FireState,
        attempt: &AttemptSpec<'_>,
        redaction: &mut Redaction,
    ) -> Result<WireRequest, TransportFailure> {
        let context = template_context(fire, attempt.response);
        let mut known = fire.secrets.clone();
        known.extend(fire.callback.as_ref().map(|ticket| ticket.token.clone()));
        let (rendered, secrets) = action
            .renderer
            .render_with_secrets(attempt.purpose, context, &known)
            .map_err(|reason| TransportFailure::new(ErrorKind::Render, format!("Rendering failed: {reason}")))?;
        // Values the templates computed from secrets (a secret through `upcase`, `split`, …) are secrets too.
        for secret in &secrets {
            redaction.add_secret(secret.expose_secret());
        }
        let OutgoingRequest { method, url, mut headers, mut body } = rendered;
        let url = Url::parse(&url).map_err(|error| {
            TransportFailure::new(ErrorKind::InvalidRequest, format!("Invalid URL `{url}`: {error}"))
        })?;
        // Before any credential is attached (`authenticate` runs after this).
        check_allowed_host(&action.allowed_hosts, &url)?;
        if attempt.purpose == RequestPurpose::CancelNotice && body.is_none() {
            body = Some(cancel_message(action, fire, state).to_string());
        }
        if action.settings.include_context {
            headers.push(("X-Cutover-Runbook-Id".to_owned(), fire.runbook_id.clone()));
            headers.push(("X-Cutover-Task-Id".to_owned(), fire.task_id.clone()));
            if let Some(text) = &body
                && let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(text)
            {
                object.insert("cutover_context".to_owned(), cutover_context(action, fire, state));
                body = Some(Value::Object(object).to_string());
            }
        }
        if !has_header(&headers, "idempotency-key") {
            let key = match (attempt.purpose, attempt.poll) {
                (RequestPurpose::Initial, _) => state.idempotency_key.clone(),
                (RequestPurpose::Poll, poll) => format!("{}-poll-{}", state.idempotency_key, poll.unwrap_or(0)),
                (RequestPurpose::CancelNotice, _) => format!("{}-cancel", state.idempotency_key),
            };
            headers.push(("Idempotency-Key".to_owned(), key));
        }
        if let Some(text) = &body
            && !has_header(&headers, "content-type")
        {
            let trimmed = text.trim_start();
            let json = trimmed.starts_with('{') || trimmed.starts_with('[');
            let content_type = if json { "application/json" } else { "text/plain; charset=utf-8" };
            headers.push(("Content-Type".to_owned(), content_type.to_owned()));
        }
        Ok(WireRequest { method, url, headers: header_map(&headers)?, body })
    }

    fn request_record(&self, wire: &WireRequest, redaction: &Redaction) -> RequestRecord {
        let url = redaction.parsed_url(&wire.url);
        let headers: Vec<(String, String)> = wire
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes());
                (display_header_name(name.as_str()), redaction.header_value(name.as_str(), &value))
            })
            .collect();
        let body = wire.body.as_deref().map(|body| redaction.text(body));
        let curl = curl_line(wire.method.as_str(), &url, &headers, body.as_deref());
        let (body, body_truncated) = match body {
            Some(body) => {
                let (kept, truncated) = truncate(&body, self.config.log_body_limit);
                (Some(kept), truncated)
            }
            None => (None, false),
        };
        RequestRecord {
            method: wire.method.as_str().to_owned(),
            url,
            headers: headers.into_iter().map(|(name, value)| HeaderRecord { name, value }).collect(),
            body,
            body_truncated,
            curl,
        }
    }

    fn response_record(&self, response: &WireResponse, redaction: &Redaction) -> ResponseRecord {
        let text = String::from_utf8_lossy(&response.body);
        let (body, truncated) = truncate(&redaction.text(&text), self.config.log_body_limit);
        ResponseRecord {
            status: response.status,
            headers: response
                .headers
                .iter()
                .map(|(name, value)| HeaderRecord { name: name.clone(), value: redaction.header_value(name, value) })
                .collect(),
            body,
            body_truncated: truncated || response.truncated,
            final_url: response.final_url.as_deref().map(|url| redaction.url(url)),
        }
    }

    /// Decides what a transport failure or a retryable status means: a retry, or the end of the request.
    fn retry_or_fail(&self, exchange: &mut Exchange, failed_attempt: u32) -> Result<Timestamp, AttemptError> {
        let (error, retryable, retry_after) = match (&exchange.failure, &exchange.response) {
            (Some(failure), _) => {
                (AttemptError { kind: failure.kind, reason: failure.reason.clone() }, failure.retryable, None)
            }
            (None, Some(response)) => (
                status_error(response),
                true,
                response.header("retry-after").and_then(|value| parse_retry_after(value, self.now())),
            ),
            (None, None) => unreachable!("an exchange has a response or a failure"),
        };
        // A status error quotes the response, which may echo a secret.
        let error = AttemptError { reason: exchange.redaction.text(&error.reason), ..error };
        exchange.record.error.get_or_insert_with(|| error.clone());
        let next = retryable.then(|| self.retry_at(failed_attempt, retry_after)).flatten();
        match next {
            Some(at) => {
                exchange.record.retry_at = Some(at);
                Ok(at)
            }
            None if retryable && failed_attempt > 1 => Err(AttemptError {
                kind: error.kind,
                reason: format!("{} (gave up after {failed_attempt} attempts)", error.reason),
            }),
            None => Err(error),
        }
    }

    async fn send_step(&self, action: &PreparedAction, fire: &FireContext, mut state: FireState, number: u32) -> Step {
        let spec = AttemptSpec { purpose: RequestPurpose::Initial, poll: None, number, response: None };
        let mut exchange = self.exchange(action, fire, &state, spec).await;
        let needs_retry_decision = exchange.failure.is_some()
            || exchange.response.as_ref().is_some_and(|response| is_retryable_status(response.status));
        if needs_retry_decision {
            return match self.retry_or_fail(&mut exchange, number) {
                Ok(at) => {
                    state.phase = FirePhase::Sending { attempt: number + 1 };
                    Step { outcome: StepOutcome::WaitUntil { at, state }, entries: exchange.into_entries() }
                }
                Err(error) => exchange.fail(error),
            };
        }
        let Some(response) = exchange.response.take() else { unreachable!("no failure means a response") };
        let judged = match action.mode {
            ExecutionMode::FireAndForget if is_success(response.status) => Ok((Value::Null, BTreeMap::new())),
            ExecutionMode::FireAndForget => Err(status_error(&response)),
            ExecutionMode::Sync => judge_response(&action.response, &response, false),
            ExecutionMode::Polling | ExecutionMode::Callback => judge_response(&action.response, &response, true),
        };
        let (mut body, mut fields) = match judged {
            Ok(accepted) => accepted,
            Err(error) => return exchange.fail(error),
        };
        let notes = redact_fields(&mut fields, &exchange.redaction);
        exchange.redaction.json(&mut body);
        let mut entries = exchange.into_entries();
        entries.extend(notes.into_iter().map(|note| self.note(note)));
        match action.mode {
            ExecutionMode::FireAndForget | ExecutionMode::Sync => {
                Step { outcome: StepOutcome::Done(FireResult::success(fields)), entries }
            }
            ExecutionMode::Polling => {
                let rules = action.polling.as_ref().expect("a polling action has polling rules");
                let now = self.now();
                state.fields = fields;
                state.phase = FirePhase::Polling {
                    response: body,
                    poll: 1,
                    attempt: 1,
                    deadline: rules.timeout.map(|timeout| now + signed(timeout)),
                };
                let at = now + signed(rules.interval);
                Step { outcome: StepOutcome::WaitUntil { at, state }, entries }
            }
            ExecutionMode::Callback => {
                let deadline = self.now() + signed(action.callback_timeout);
                state.fields = fields;
                state.phase = FirePhase::AwaitingCallback { deadline };
                entries.push(self.note(format!("Waiting for the callback until {deadline}")));
                Step { outcome: StepOutcome::AwaitCallback { deadline, state }, entries }
            }
        }
    }

    async fn poll_step(
        &self,
        action: &PreparedAction,
        fire: &FireContext,
        mut state: FireState,
        poll: PollPosition,
    ) -> Step {
        let Some(rules) = action.polling.as_ref() else {
            let result = FireResult::failure(ErrorKind::InvalidRequest, "The action has no polling section");
            return Step { outcome: StepOutcome::Done(result), entries: Vec::new() };
        };
        if let Some(deadline) = poll.deadline
            && self.now() >= deadline
        {
            let seconds = rules.timeout.map(|timeout| timeout.as_secs()).unwrap_or_default();
            let reason = format!("Timed out: polling did not complete within {seconds} s");
            let result = FireResult::failure(ErrorKind::Timeout, reason.clone());
            return Step { outcome: StepOutcome::Done(result), entries: vec![self.note(reason)] };
        }
        let spec = AttemptSpec {
            purpose: RequestPurpose::Poll,
            poll: Some(poll.poll),
            number: poll.attempt,
            response: Some(&poll.response),
        };
        let mut exchange = self.exchange(action, fire, &state, spec).await;
        let needs_retry_decision = exchange.failure.is_some()
            || exchange.response.as_ref().is_some_and(|response| is_retryable_status(response.status));
        if needs_retry_decision {
            return match self.retry_or_fail(&mut exchange, poll.attempt) {
                Ok(at) => {
                    state.phase = poll.into_phase(0, 1);
                    Step { outcome: StepOutcome::WaitUntil { at, state }, entries: exchange.into_entries() }
                }
                Err(error) => exchange.fail(error),
            };
        }
        let Some(response) = exchange.response.take() else { unreachable!("no failure means a response") };
        if !is_success(response.status) {
            return exchange.fail(status_error(&response));
        }
        let reads_body = !(rules.complete_when.is_empty() && rules.fail_when.is_empty() && rules.map.is_empty());
        let body = if reads_body {
            match json_body(&response) {
                Ok(body) => body,
                Err(error) => return exchange.fail(error),
            }
        } else {
            Value::Null
        };
        if let Some(condition) = rules.fail_when.iter().find(|condition| condition.holds(&body)) {
            let reason = format!(
                "Fail condition met on poll {}: {} ({})",
                poll.poll,
                condition.describe(),
                condition.found(&body)
            );
            return exchange.fail(AttemptError { kind: ErrorKind::Condition, reason });
        }
        match rules.complete_when.iter().find(|condition| !condition.holds(&body)) {
            None => match map_fields(&rules.map, &body) {
                Ok(mut mapped) => {
                    let notes = redact_fields(&mut mapped, &exchange.redaction);
                    let mut fields = std::mem::take(&mut state.fields);
                    fields.extend(mapped);
                    let mut entries = exchange.into_entries();
                    entries.extend(notes.into_iter().map(|note| self.note(note)));
                    Step { outcome: StepOutcome::Done(FireResult::success(fields)), entries }
                }
                Err(error) => exchange.fail(error),
            },
            Some(unmet) if poll.poll >= rules.max_polls => {
                let reason = format!(
                    "Gave up after {} polls: {} never held (last: {})",
                    poll.poll,
                    unmet.describe(),
                    unmet.found(&body)
                );
                let mut entries = exchange.into_entries();
                entries.push(self.note(reason.clone()));
                let result = FireResult::failure(ErrorKind::PollsExhausted, reason);
                Step { outcome: StepOutcome::Done(result), entries }
            }
            Some(_) => {
                let mut at = self.now() + signed(rules.interval);
                if let Some(deadline) = poll.deadline {
                    at = at.min(deadline);
                }
                state.phase = poll.into_phase(1, 0);
                Step { outcome: StepOutcome::WaitUntil { at, state }, entries: exchange.into_entries() }
            }
        }
    }
}

#[async_trait]
impl Executor for HttpExecutor {
    fn begin(&self, action: &PreparedAction, fire: &FireContext, idempotency_key: String) -> FireState {
        FireState {
            fire_id: fire.fire_id.clone(),
            mode: action.mode,
            idempotency_key,
            started_at: self.now(),
            fields: BTreeMap::new(),
            phase: FirePhase::Sending { attempt: 1 },
        }
    }

    async fn step(&self, action: &PreparedAction, fire: &FireContext, state: FireState) -> Step {
        match state.phase.clone() {
            FirePhase::Sending { attempt } => self.send_step(action, fire, state, attempt).await,
            FirePhase::Polling { response, poll, attempt, deadline } => {
                self.poll_step(action, fire, state, PollPosition { response, poll, attempt, deadline }).await
            }
            FirePhase::AwaitingCallback { deadline } if self.now() >= deadline => {
                let reason = format!("Timed out: no callback within {} s", action.callback_timeout.as_secs());
                let result = FireResult::failure(ErrorKind::Timeout, reason.clone());
                Step { outcome: StepOutcome::Done(result), entries: vec![self.note(reason)] }
            }
            FirePhase::AwaitingCallback { deadline } => {
                Step { outcome: StepOutcome::AwaitCallback { deadline, state }, entries: Vec::new() }
            }
        }
    }

    fn complete_callback(
        &self,
        _action: &PreparedAction,
        fire: &FireContext,
        mut state: FireState,
        report: CallbackReport,
    ) -> Result<Step, HttpError> {
        let FirePhase::AwaitingCallback { deadline } = state.phase else {
            return Err(HttpError::InvalidState {
                fire_id: state.fire_id,
                reason: "the fire is not waiting for a callback".to_owned(),
            });
        };
        let redaction = redaction_for(fire);
        let message = report.message.as_deref().map(|message| redaction.text(message));
        let said = message.as_deref().map(|message| format!(": {message}")).unwrap_or_default();
        let step = match report.status {
            CallbackStatus::Success => {
                let mut reported = report.custom_fields;
                let notes = redact_fields(&mut reported, &redaction);
                let mut fields = std::mem::take(&mut state.fields);
                fields.extend(reported);
                let mut entries = vec![self.note(format!("Callback reported success{said}"))];
                entries.extend(notes.into_iter().map(|note| self.note(note)));
                Step { outcome: StepOutcome::Done(FireResult::success(fields)), entries }
            }
            CallbackStatus::Failure => {
                let reason = message.unwrap_or_else(|| "The third party reported failure".to_owned());
                Step {
                    outcome: StepOutcome::Done(FireResult::failure(ErrorKind::Reported, reason)),
                    entries: vec![self.note(format!("Callback reported failure{said}"))],
                }
            }
            CallbackStatus::Progress => {
                state.fields.extend(report.custom_fields);
                Step {
                    outcome: StepOutcome::AwaitCallback { deadline, state },
                    entries: vec![self.note(format!("Callback reported progress{said}"))],
                }
            }
        };
        Ok(step)
    }

    async fn notify_cancel(
        &self,
        action: &PreparedAction,
        fire: &FireContext,
        state: &FireState,
        attempt: u32,
    ) -> Option<CancelNotice> {
        action.cancel_webhook()?;
        let spec = AttemptSpec { purpose: RequestPurpose::CancelNotice, poll: None, number: attempt, response: None };
        let mut exchange = self.exchange(action, fire, state, spec).await;
        let delivered = exchange.response.as_ref().is_some_and(|response| is_success(response.status));
        let retryable = exchange.failure.is_some()
            || exchange.response.as_ref().is_some_and(|response| is_retryable_status(response.status));
        let retry_at = if retryable {
            self.retry_or_fail(&mut exchange, attempt).ok()
        } else {
            if let Some(response) = exchange.response.as_ref().filter(|_| !delivered) {
                let error = status_error(response);
                exchange.record.error = Some(AttemptError { reason: exchange.redaction.text(&error.reason), ..error });
            }
            None
        };
        Some(CancelNotice { entries: exchange.into_entries(), delivered, retry_at })
    }

    fn preview(&self, action: &PreparedAction, fire: &FireContext, state: &FireState) -> AttemptRecord {
        let mut redaction = redaction_for(fire);
        let spec = AttemptSpec { purpose: RequestPurpose::Initial, poll: None, number: 1, response: None };
        let mut record = AttemptRecord {
            purpose: RequestPurpose::Initial,
            poll: None,
            attempt: 1,
            started_at: self.now(),
            duration_ms: 0,
            duration_us: None,
            request: None,
            response: None,
            error: None,
            retry_at: None,
        };
        match self.build_request(action, fire, state, &spec, &mut redaction) {
            Ok(wire) => record.request = Some(self.request_record(&wire, &redaction)),
            Err(failure) => {
                let failure = redact_failure(failure, &redaction);
                record.error = Some(AttemptError { kind: failure.kind, reason: failure.reason });
            }
        }
        record
    }
}

/// Which request an attempt sends.
struct AttemptSpec<'a> {
    purpose: RequestPurpose,
    poll: Option<u32>,
    number: u32,
    /// `{{Response…}}` for polls.
    response: Option<&'a Value>,
}

/// Where polling is, unpacked from [`FirePhase::Polling`].
struct PollPosition {
    response: Value,
    poll: u32,
    attempt: u32,
    deadline: Option<Timestamp>,
}

impl PollPosition {
    /// The phase `polls` polls later, at attempt `attempts` past the current one (a retry), or attempt 1 (a new poll).
    fn into_phase(self, polls: u32, attempts: u32) -> FirePhase {
        let attempt = if polls > 0 { 1 } else { self.attempt + attempts };
        FirePhase::Polling { response: self.response, poll: self.poll + polls, attempt, deadline: self.deadline }
    }
}

/// One attempt's record and what it got.
struct Exchange {
    record: AttemptRecord,
    response: Option<WireResponse>,
    failure: Option<TransportFailure>,
    /// What the auth provider added, for `on_unauthorized`.
    applied: Option<AppliedCredentials>,
    /// A send answered 401 before credentials were refreshed and the request sent again.
    earlier: Vec<AttemptRecord>,
    /// The secrets of the attempt: the fire's, the values derived from them while rendering, the credentials.
    redaction: Redaction,
}

impl Exchange {
    fn fail_with(&mut self, failure: TransportFailure) {
        self.record.error = Some(AttemptError { kind: failure.kind, reason: failure.reason.clone() });
        self.failure = Some(failure);
    }

    fn into_entries(self) -> Vec<LogEntry> {
        let mut entries: Vec<LogEntry> =
            self.earlier.into_iter().map(|record| LogEntry::Attempt(Box::new(record))).collect();
        entries.push(LogEntry::Attempt(Box::new(self.record)));
        entries
    }

    /// Ends the fire with `error`, recorded on the attempt too.
    fn fail(mut self, error: AttemptError) -> Step {
        // A condition's reason quotes the response, which may echo a secret.
        let error = AttemptError { reason: self.redaction.text(&error.reason), ..error };
        self.record.error = Some(error.clone());
        Step {
            outcome: StepOutcome::Done(FireResult { succeeded: false, failure: Some(error), fields: BTreeMap::new() }),
            entries: self.into_entries(),
        }
    }
}

/// Header names as conventionally written (`Content-Type`), since the wire map keeps them lower-case.
fn display_header_name(name: &str) -> String {
    let mut shown = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        shown.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    shown
}

/// Judges a response against the action's response rules; `keep_body` parses the body for `{{Response…}}` even when
/// no rule reads it.
fn judge_response(
    rules: &ResponseRules,
    response: &WireResponse,
    keep_body: bool,
) -> Result<(Value, BTreeMap<String, FieldValue>), AttemptError> {
    let status_ok = if rules.success_statuses.is_empty() {
        is_success(response.status)
    } else {
        rules.success_statuses.contains(&response.status)
    };
    if !status_ok {
        return Err(status_error(response));
    }
    let body = if rules.reads_body() {
        json_body(response)?
    } else if keep_body {
        json_body(response).unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    if let Some(condition) = rules.failure_when.iter().find(|condition| condition.holds(&body)) {
        return Err(AttemptError {
            kind: ErrorKind::Condition,
            reason: format!("Failure condition met: {} ({})", condition.describe(), condition.found(&body)),
        });
    }
    if let Some(condition) = rules.success_when.iter().find(|condition| !condition.holds(&body)) {
        return Err(unmet(condition, &body));
    }
    let fields = map_fields(&rules.map, &body)?;
    Ok((body, fields))
}

fn unmet(condition: &ResponseCondition, body: &Value) -> AttemptError {
    AttemptError {
        kind: ErrorKind::Condition,
        reason: format!("Success condition not met: {} ({})", condition.describe(), condition.found(body)),
    }
}

fn map_fields(
    map: &[crate::response_path::FieldMapping],
    body: &Value,
) -> Result<BTreeMap<String, FieldValue>, AttemptError> {
    let mut fields = BTreeMap::new();
    for mapping in map {
        let Some(value) = mapping.extract(body) else {
            return Err(AttemptError {
                kind: ErrorKind::Mapping,
                reason: format!("Mapping `{}`: `{}` matches nothing in the response", mapping.field, mapping.path),
            });
        };
        fields.insert(mapping.field.clone(), value);
    }
    Ok(fields)
}

/// Hides the fire's secrets in values about to be copied into custom fields (a third party that echoes a credential
/// or a secret parameter, raw or in the forms it was sent in); one note per field changed, for the actions log.
fn redact_fields(fields: &mut BTreeMap<String, FieldValue>, redaction: &Redaction) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, value) in fields.iter_mut() {
        let texts: Vec<&mut String> = match value {
            FieldValue::Text(text) => vec![text],
            FieldValue::List(items) => items.iter_mut().collect(),
        };
        let mut changed = false;
        for text in texts {
            if redaction.holds_secret(text) {
                *text = redaction.text(text);
                changed = true;
            }
        }
        if changed {
            notes.push(format!(
                "Mapping `{name}`: the value holds a secret of this fire (a credential or secret parameter the response \
                 echoed); it was redacted before being copied into the field"
            ));
        }
    }
    notes
}

fn json_body(response: &WireResponse) -> Result<Value, AttemptError> {
    if response.truncated {
        return Err(AttemptError {
            kind: ErrorKind::InvalidResponse,
            reason: format!("The response body is larger than the {}-byte limit", response.body.len()),
        });
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&response.body).map_err(|error| AttemptError {
        kind: ErrorKind::InvalidResponse,
        reason: format!("The response body is not JSON: {error}"),
    })
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// `HTTP 404 Not Found`, then the start of the body when there is one: a third party's own words on what went wrong
/// (`HTTP 400 Bad Request: {"errorMessages":["Issue does not exist"]}`). Callers redact it, since a body may echo a
/// secret.
fn status_error(response: &WireResponse) -> AttemptError {
    let status = reqwest::StatusCode::from_u16(response.status)
        .ok()
        .and_then(|status| status.canonical_reason())
        .map(|reason| format!("HTTP {} {reason}", response.status))
        .unwrap_or_else(|| format!("HTTP {}", response.status));
    let reason = match body_excerpt(&response.body) {
        Some(excerpt) => format!("{status}: {excerpt}"),
        None => status,
    };
    AttemptError { kind: ErrorKind::Status, reason }
}

/// The characters of a body quoted in a failure reason, at most.
const EXCERPT_CHARS: usize = 300;

/// The body on one line (control characters and runs of white space become one space), cut at
/// [`EXCERPT_CHARS`] characters; `None` when blank.
fn body_excerpt(body: &[u8]) -> Option<String> {
    let text: String = String::from_utf8_lossy(body).chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let line = words.join(" ");
    Some(match line.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    })
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(header, _)| header.eq_ignore_ascii_case(name))
}

/// The redaction of one fire: its secrets, and its callback token.
fn redaction_for(fire: &FireContext) -> Redaction {
    let mut redaction = Redaction::default();
    for secret in &fire.secrets {
        redaction.add_secret(secret.expose_secret());
    }
    if let Some(ticket) = &fire.callback {
        redaction.add_secret(ticket.token.expose_secret());
    }
    redaction
}

fn redact_failure(failure: TransportFailure, redaction: &Redaction) -> TransportFailure {
    TransportFailure { reason: redaction.text(&failure.reason), ..failure }
}

/// The template roots of an attempt: the fire's values, `Callback`, and `Response` for polls.
fn template_context(fire: &FireContext, response: Option<&Value>) -> Value {
    if fire.callback.is_none() && response.is_none() {
        return fire.values.clone();
    }
    let mut roots = match &fire.values {
        Value::Object(roots) => roots.clone(),
        _ => Map::new(),
    };
    if let Some(ticket) = &fire.callback {
        roots.insert("Callback".to_owned(), json!({"url": ticket.url, "token": ticket.token.expose_secret()}));
    }
    if let Some(response) = response {
        roots.insert("Response".to_owned(), response.clone());
    }
    Value::Object(roots)
}

/// `cutover_context`: the runbook, task, action and fire a request comes from.
fn cutover_context(action: &PreparedAction, fire: &FireContext, state: &FireState) -> Value {
    let with_id = |root: &str, id: &str| {
        let mut object = match fire.values.get(root) {
            Some(Value::Object(object)) => object.clone(),
            _ => Map::new(),
        };
        object.insert("id".to_owned(), Value::String(id.to_owned()));
        Value::Object(object)
    };
    json!({
        "runbook": with_id("Runbook", &fire.runbook_id),
        "task": with_id("Task", &fire.task_id),
        "action": {"name": action.name},
        "fire": {"id": state.fire_id, "mode": state.mode, "started_at": state.started_at},
    })
}

/// The cancel message sent when the webhook has no payload template.
fn cancel_message(action: &PreparedAction, fire: &FireContext, state: &FireState) -> Value {
    json!({
        "event": "fire_cancelled",
        "runbook_id": fire.runbook_id,
        "task_id": fire.task_id,
        "action": action.name,
        "fire_id": state.fire_id,
        "idempotency_key": state.idempotency_key,
    })
}

/// A random version 4 UUID, as the `Idempotency-Key` of a fire that is not stored (see [`Executor::begin`]).
pub fn random_idempotency_key() -> String {
    let mut bytes: [u8; 16] = rand::rng().random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn signed(duration: Duration) -> SignedDuration {
    SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
}

/// The first `limit` bytes of `text`, cut at a character boundary, and whether anything was cut.
fn truncate(text: &str, limit: usize) -> (String, bool) {
    if text.len() <= limit {
        return (text.to_owned(), false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_uuid_v4_and_distinct() {
        let first = random_idempotency_key();
        let second = random_idempotency_key();
        assert_ne!(first, second);
        for key in [&first, &second] {
            assert_eq!(key.len(), 36, "{key}");
            assert_eq!(&key[14..15], "4", "{key}");
            assert!(matches!(&key[19..20], "8" | "9" | "a" | "b"), "{key}");
        }
    }

    #[test]
    fn truncate_cuts_at_character_boundaries() {
        let cases =
            [("hello", 10, "hello", false), ("hello", 3, "hel", true), ("héllo", 2, "h", true), ("", 0, "", false)];
        for (text, limit, expected, cut) in cases {
            assert_eq!(truncate(text, limit), (expected.to_owned(), cut), "{text} {limit}");
        }
    }
}
