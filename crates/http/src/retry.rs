//! When a failed attempt is tried again: retryable statuses, exponential backoff with jitter, and `Retry-After`.

use crate::RetryPolicy;
use jiff::Timestamp;
use jiff::fmt::rfc2822::DateTimeParser;
use std::time::Duration;

/// Whether a response status asks for another attempt: 408, 429 and every 5xx.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The delay before the attempt after `failed_attempt` (1-based), or `None` when the retries are over.
///
/// A `Retry-After` from the server wins over the computed backoff, unless it is longer than the policy allows, which
/// ends the retries. `random` is a number in `[0, 1)` that spreads the backoff over its jitter window.
pub(crate) fn delay_before_retry(
    policy: &RetryPolicy,
    failed_attempt: u32,
    retry_after: Option<Duration>,
    random: f64,
) -> Option<Duration> {
    if failed_attempt >= policy.max_attempts {
        return None;
    }
    if let Some(asked) = retry_after {
        return (asked <= policy.max_retry_after).then_some(asked);
    }
    let doublings = failed_attempt.saturating_sub(1).min(30);
    let backoff = policy.initial_backoff.saturating_mul(1 << doublings).min(policy.max_backoff);
    let jitter = policy.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0);
    Some(backoff.mul_f64(1.0 - jitter))
}

/// Reads a `Retry-After` value: delay seconds, or an HTTP date (a date in the past means no delay).
pub(crate) fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    static PARSER: DateTimeParser = DateTimeParser::new();
    let at = PARSER.parse_timestamp(value).ok()?;
    Some(at.duration_since(now).try_into().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            jitter: 0.5,
            max_retry_after: Duration::from_secs(60),
        }
    }

    #[test]
    fn retryable_statuses() {
        let cases = [
            (408, true),
            (429, true),
            (500, true),
            (503, true),
            (599, true),
            (400, false),
            (401, false),
            (404, false),
            (409, false),
            (422, false),
            (200, false),
            (302, false),
        ];
        for (status, expected) in cases {
            assert_eq!(is_retryable_status(status), expected, "{status}");
        }
    }

    #[test]
    fn backoff_doubles_caps_and_jitters_down() {
        // (failed attempt, Retry-After, random) → delay in milliseconds, or none when retries are over.
        let cases = [
            (1, None, 0.0, Some(100)),
            (2, None, 0.0, Some(200)),
            (3, None, 0.0, Some(400)),
            (4, None, 0.0, Some(500)),
            (1, None, 0.999_999, Some(50)),
            (3, None, 0.5, Some(300)),
            (5, None, 0.0, None),
            (1, Some(2_000), 0.7, Some(2_000)),
            (1, Some(0), 0.7, Some(0)),
            (2, Some(61_000), 0.0, None),
            (5, Some(10), 0.0, None),
        ];
        for (failed, retry_after, random, expected) in cases {
            let delay = delay_before_retry(&policy(), failed, retry_after.map(Duration::from_millis), random);
            assert_eq!(delay.map(|d| d.as_millis() as u64), expected, "{failed} {retry_after:?} {random}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now: Timestamp = "2024-07-13T15:09:00Z".parse().unwrap();
        let cases = [
            ("3", Some(3)),
            (" 120 ", Some(120)),
            ("Sat, 13 Jul 2024 15:09:59 GMT", Some(59)),
            ("Sat, 13 Jul 2024 15:00:00 GMT", Some(0)),
            ("soon", None),
            ("-1", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_retry_after(value, now).map(|d| d.as_secs()), expected, "{value}");
        }
    }
}
