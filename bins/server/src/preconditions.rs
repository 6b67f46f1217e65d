//! Conditional requests over the store's versions: every single resource answers with an `ETag` (`"V"`, the version
//! the store keeps for it), `If-None-Match` on a GET answers 304 when it still holds, and `If-Match` on a PATCH or
//! DELETE is handed to the engine, which compares it in the write: a stale one is refused with 412
//! `precondition_failed` and nothing changes.
//!
//! Versions: a runbook's is its row version (every change of the runbook or of one of its tasks moves it), which
//! its tasks share; an integration's is moved by every change of it or of its actions, which share it too.

use crate::error::ApiError;
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `If-Match` of a request: the version the caller last read, or none (`*`, or no header: any version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IfMatch(pub(crate) Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IF_MATCH) else { return Ok(Self(None)) };
        parse_if_match(value).map(Self)
    }
}

/// `*` matches any version; one strong ETag of ours names a version. Anything else can never match (a weak tag,
/// which `If-Match` compares strongly, a tag we did not make, several tags): 412 at once.
fn parse_if_match(value: &HeaderValue) -> Result<Option<i64>, ApiError> {
    let text = value.to_str().unwrap_or_default().trim();
    if text == "*" {
        return Ok(None);
    }
    version_of(text).map(Some).ok_or_else(|| {
        ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            format!("`If-Match: {text}` names no version of this resource: send the one ETag its GET answered"),
        )
    })
}

/// The version in one strong ETag of ours (`"12"`).
fn version_of(tag: &str) -> Option<i64> {
    let inner = tag.trim().strip_prefix('"')?.strip_suffix('"')?;
    inner.parse().ok().filter(|version: &i64| *version >= 0 && inner.bytes().all(|b| b.is_ascii_digit()))
}

/// The ETag of a version.
pub(crate) fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// A single resource's answer: its JSON with its `ETag`, or 304 with the `ETag` alone when the request's
/// `If-None-Match` names it (or is `*`).
pub(crate) fn tagged<T: Serialize>(request: &HeaderMap, status: StatusCode, version: i64, body: T) -> Response {
    let tag = etag(version);
    let unchanged = request.get(IF_NONE_MATCH).and_then(|value| value.to_str().ok()).is_some_and(|value| {
        value
            .split(',')
            .map(|one| one.trim().trim_start_matches("W/"))
            .any(|one| one == "*" || one.as_bytes() == tag.as_bytes())
    });
    if unchanged && status == StatusCode::OK {
        return (StatusCode::NOT_MODIFIED, [(ETAG, tag)]).into_response();
    }
    (status, [(ETAG, tag)], Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_names_one_version_or_any() {
        let cases = [
            ("*", Ok(None)),
            ("\"7\"", Ok(Some(7))),
            (" \"12\" ", Ok(Some(12))),
            ("W/\"7\"", Err(())),
            ("\"7\", \"8\"", Err(())),
            ("7", Err(())),
            ("\"-1\"", Err(())),
            ("\"+1\"", Err(())),
            ("\"\"", Err(())),
            ("\"99999999999999999999\"", Err(())),
        ];
        for (header, expected) in cases {
            let parsed = parse_if_match(&HeaderValue::from_static(header)).map_err(|error| {
                assert_eq!(error.status, StatusCode::PRECONDITION_FAILED);
            });
            assert_eq!(parsed, expected, "{header}");
        }
    }

    #[test]
    fn if_none_match_answers_304_only_for_the_current_tag() {
        let cases = [
            (None, StatusCode::OK),
            (Some("\"3\""), StatusCode::NOT_MODIFIED),
            (Some("W/\"3\""), StatusCode::NOT_MODIFIED),
            (Some("\"2\", \"3\""), StatusCode::NOT_MODIFIED),
            (Some("*"), StatusCode::NOT_MODIFIED),
            (Some("\"2\""), StatusCode::OK),
            (Some("\"33\""), StatusCode::OK),
        ];
        for (header, expected) in cases {
            let mut headers = HeaderMap::new();
            if let Some(header) = header {
                headers.insert(IF_NONE_MATCH, HeaderValue::from_static(header));
            }
            let response = tagged(&headers, StatusCode::OK, 3, ());
            assert_eq!(response.status(), expected, "{header:?}");
            assert_eq!(response.headers().get(ETAG), Some(&HeaderValue::from_static("\"3\"")));
        }
    }
}
