//! The crate's error type, and the kinds of failure an attempt or a fire records.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What can go wrong preparing an executor or an action, or driving a fire from an unexpected state.
///
/// Failures of a fire itself (a refused connection, a 500, an unmet condition) are not errors of this type: they are
/// outcomes, recorded in the actions log with an [`ErrorKind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The HTTP client could not be built (for instance, TLS roots could not be loaded).
    #[error("cannot build the HTTP client: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
    /// A response path (condition or mapping) is not valid JSONPath nor dotted form.
    #[error("{place}: invalid path `{path}`: {reason}")]
    InvalidPath {
        /// Where the path is, such as `response.success_when[0].path`.
        place: String,
        /// The path as written.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A template of the action does not compile.
    #[error("{place}: {reason}")]
    Template {
        /// Which template, such as `request.payload`.
        place: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The action's execution mode needs a section the action lacks.
    #[error("action `{action}` uses execution mode `{mode}` but has no `{section}` section")]
    MissingSection {
        /// The action name.
        action: String,
        /// The execution mode.
        mode: String,
        /// The missing section.
        section: &'static str,
    },
    /// The action is a draft: it has no request yet, so it cannot fire.
    #[error("action `{action}` is a draft: it has no request yet, so it cannot fire")]
    Draft {
        /// The action name.
        action: String,
    },
    /// A call that does not fit the fire's state, such as completing a fire that does not wait for a callback.
    #[error("fire {fire_id}: {reason}")]
    InvalidState {
        /// The fire.
        fire_id: String,
        /// What did not fit.
        reason: String,
    },
}

/// The kind of failure of an attempt or a fire, as the actions log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection: refused, reset, unreachable, DNS failure.
    ConnectionFailed,
    /// The attempt, the polling or the wait for a callback ran out of time.
    Timeout,
    /// The TLS handshake failed (untrusted certificate, protocol mismatch).
    Tls,
    /// The response status means failure.
    Status,
    /// A success or failure condition decided against the response.
    Condition,
    /// A mapped path matched nothing in the response.
    Mapping,
    /// The outbound guard refused the address, or the host is not in the action's `allowed_hosts`.
    SsrfBlocked,
    /// Too many redirects, or a redirect to a URL that cannot be followed.
    Redirect,
    /// The response could not be read or is not the JSON the action needs.
    InvalidResponse,
    /// The request could not be built: invalid URL, header or method.
    InvalidRequest,
    /// A template failed to render (a missing value, a bad filter argument).
    Render,
    /// The auth provider could not supply credentials.
    Auth,
    /// Polling reached `max_attempts` without a condition holding.
    PollsExhausted,
    /// The third party reported failure through the callback.
    Reported,
    /// A user cancelled the fire.
    Cancelled,
}

impl ErrorKind {
    /// The snake_case name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionFailed => "connection_failed",
            Self::Timeout => "timeout",
            Self::Tls => "tls",
            Self::Status => "status",
            Self::Condition => "condition",
            Self::Mapping => "mapping",
            Self::SsrfBlocked => "ssrf_blocked",
            Self::Redirect => "redirect",
            Self::InvalidResponse => "invalid_response",
            Self::InvalidRequest => "invalid_request",
            Self::Render => "render",
            Self::Auth => "auth",
            Self::PollsExhausted => "polls_exhausted",
            Self::Reported => "reported",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_as_their_names() {
        let kinds = [
            ErrorKind::ConnectionFailed,
            ErrorKind::Timeout,
            ErrorKind::Tls,
            ErrorKind::Status,
            ErrorKind::Condition,
            ErrorKind::Mapping,
            ErrorKind::SsrfBlocked,
            ErrorKind::Redirect,
            ErrorKind::InvalidResponse,
            ErrorKind::InvalidRequest,
            ErrorKind::Render,
            ErrorKind::Auth,
            ErrorKind::PollsExhausted,
            ErrorKind::Reported,
            ErrorKind::Cancelled,
        ];
        for kind in kinds {
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(kind.as_str()));
            assert_eq!(serde_json::from_value::<ErrorKind>(serde_json::json!(kind.as_str())).unwrap(), kind);
        }
    }
}
