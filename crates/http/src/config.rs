//! Executor configuration: timeouts, redirects, body caps, the retry policy and the outbound policy.

use crate::OutboundPolicy;
use std::time::Duration;

/// How an [`HttpExecutor`](crate::HttpExecutor) sends requests. Every limit is finite: no request waits forever, no
/// body is read without bound.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutorConfig {
    /// Limit on establishing a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Total limit on one attempt (connect, send, receive the whole body) when the action sets no `timeout_seconds`.
    pub default_request_timeout: Duration,
    /// Upper bound on an action's `timeout_seconds`.
    pub max_request_timeout: Duration,
    /// Redirects followed per attempt before the attempt fails.
    pub max_redirects: u32,
    /// Bytes of a response body read at most; the rest is discarded and the body marked truncated.
    pub response_body_limit: usize,
    /// Bytes of request and response bodies kept in the actions log.
    pub log_body_limit: usize,
    /// Which attempts are retried, and when.
    pub retry: RetryPolicy,
    /// Which private and special addresses may be reached.
    pub outbound: OutboundPolicy,
    /// The `User-Agent` of every request.
    pub user_agent: String,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            default_request_timeout: Duration::from_secs(30),
            max_request_timeout: Duration::from_secs(300),
            max_redirects: 5,
            response_body_limit: 1024 * 1024,
            log_body_limit: 64 * 1024,
            retry: RetryPolicy::default(),
            outbound: OutboundPolicy::default(),
            user_agent: concat!("cutover-integrations/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl ExecutorConfig {
    /// The total limit of one attempt of an action that asks for `timeout_seconds`: the default when it asks for
    /// none (or 0), never more than `max_request_timeout`.
    pub fn request_timeout(&self, timeout_seconds: Option<u32>) -> Duration {
        let asked = match timeout_seconds {
            Some(0) | None => self.default_request_timeout,
            Some(seconds) => Duration::from_secs(u64::from(seconds)),
        };
        asked.min(self.max_request_timeout)
    }
}

/// Retries of transport errors, 408, 429 and 5xx: exponential backoff with jitter, `Retry-After` honoured.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first one included; 1 disables retries.
    pub max_attempts: u32,
    /// Delay before the second attempt; it doubles for every further attempt.
    pub initial_backoff: Duration,
    /// Upper bound on the computed backoff.
    pub max_backoff: Duration,
    /// Fraction of the backoff (0 to 1) that is randomised: the delay lies in `[backoff × (1 − jitter), backoff]`.
    pub jitter: f64,
    /// A `Retry-After` longer than this ends the retries instead of waiting.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            jitter: 0.5,
            max_retry_after: Duration::from_secs(300),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_timeout_is_never_infinite() {
        let config = ExecutorConfig::default();
        let cases = [(None, 30), (Some(0), 30), (Some(5), 5), (Some(300), 300), (Some(u32::MAX), 300)];
        for (asked, expected) in cases {
            assert_eq!(config.request_timeout(asked), Duration::from_secs(expected), "{asked:?}");
        }
        let capped = ExecutorConfig { max_request_timeout: Duration::from_secs(2), ..ExecutorConfig::default() };
        assert_eq!(capped.request_timeout(None), Duration::from_secs(2), "the default is capped too");
    }
}
