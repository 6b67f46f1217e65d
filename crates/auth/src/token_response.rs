//! Lenient token endpoint answers: the RFC 6749 shape and the non-standard ones real providers send.
//!
//! Slack's `oauth.access` answers `{"ok": true, "access_token": "…", "scope": "…"}` without `token_type`, and reports
//! errors as HTTP 200 with `{"ok": false, "error": "invalid_code"}`; `oauth.v2.access` may put a user token under
//! `authed_user`. Some providers send `expires_in` as a string. So every field is read from a loose JSON value and
//! checked afterwards: parsing itself never fails on a JSON object, and therefore never produces a serde message that
//! could quote a token.

use oauth2::basic::BasicTokenType;
use oauth2::{AccessToken, RefreshToken, Scope, TokenResponse};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::time::Duration;

/// A token endpoint answer in any of the shapes we accept; check it with [`ProviderTokenResponse::problem`].
#[derive(Clone, Serialize, Deserialize)]
#[serde(from = "Value")]
pub(crate) struct ProviderTokenResponse {
    #[serde(skip)]
    access_token: AccessToken,
    #[serde(skip)]
    token_type: BasicTokenType,
    expires_in: Option<u64>,
    #[serde(skip)]
    refresh_token: Option<RefreshToken>,
    scopes: Option<Vec<Scope>>,
    #[serde(skip)]
    has_access_token: bool,
    ok: Option<bool>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Why an answer that parsed is still not a token.
pub(crate) enum TokenProblem {
    /// The provider reported an error in a 200 answer (Slack's `"ok": false`, or an `error` field).
    Refused { error: String, description: Option<String> },
    /// There is no access token and no error.
    NoAccessToken,
}

impl ProviderTokenResponse {
    /// What is wrong with the answer, if anything.
    pub(crate) fn problem(&self) -> Option<TokenProblem> {
        let refused = || TokenProblem::Refused {
            error: self.error.clone().unwrap_or_else(|| "\"ok\": false without an error code".to_owned()),
            description: self.error_description.clone(),
        };
        if self.ok == Some(false) {
            return Some(refused());
        }
        if !self.has_access_token {
            return Some(if self.error.is_some() { refused() } else { TokenProblem::NoAccessToken });
        }
        None
    }
}

impl From<Value> for ProviderTokenResponse {
    fn from(value: Value) -> Self {
        let empty = Map::new();
        let root = value.as_object().unwrap_or(&empty);
        // Slack's v2 user-token installs carry the token under `authed_user` when there is no bot token.
        let holder = match (text(root, "access_token"), root.get("authed_user").and_then(Value::as_object)) {
            (None, Some(user)) if text(user, "access_token").is_some() => user,
            _ => root,
        };
        let access_token = text(holder, "access_token");
        Self {
            has_access_token: access_token.is_some(),
            access_token: AccessToken::new(access_token.unwrap_or_default()),
            token_type: text(holder, "token_type")
                .map(|kind| match kind.to_ascii_lowercase().as_str() {
                    "bearer" => BasicTokenType::Bearer,
                    "mac" => BasicTokenType::Mac,
                    other => BasicTokenType::Extension(other.to_owned()),
                })
                .unwrap_or(BasicTokenType::Bearer),
            expires_in: holder.get("expires_in").and_then(seconds),
            refresh_token: text(holder, "refresh_token").map(RefreshToken::new),
            scopes: text(holder, "scope").map(|scope| {
                scope
                    .split([' ', ','])
                    .filter(|item| !item.is_empty())
                    .map(|item| Scope::new(item.to_owned()))
                    .collect()
            }),
            ok: root.get("ok").and_then(Value::as_bool),
            error: text(root, "error"),
            error_description: text(root, "error_description"),
        }
    }
}

fn text(object: &Map<String, Value>, field: &str) -> Option<String> {
    object.get(field).and_then(Value::as_str).filter(|value| !value.is_empty()).map(str::to_owned)
}

/// Reads a duration in seconds written as a number or a numeric string; negative values count as zero.
fn seconds(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number
            .as_u64()
            .or_else(|| number.as_i64().map(|negative| negative.max(0).unsigned_abs()))
            .or_else(|| number.as_f64().filter(|float| float.is_finite()).map(|float| float.max(0.0) as u64)),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    }
}

impl fmt::Debug for ProviderTokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderTokenResponse")
            .field("access_token", &crate::config::Redacted)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| crate::config::Redacted))
            .field("ok", &self.ok)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl TokenResponse for ProviderTokenResponse {
    type TokenType = BasicTokenType;

    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }

    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }

    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// A token endpoint error answer (non-200), read leniently: any JSON object parses, with the RFC 6749 `error` and
/// `error_description` fields when present (Slack-style `ok: false` bodies too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Value")]
pub(crate) struct ProviderErrorResponse {
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
}

impl From<Value> for ProviderErrorResponse {
    fn from(value: Value) -> Self {
        let empty = Map::new();
        let root = value.as_object().unwrap_or(&empty);
        Self { error: text(root, "error"), error_description: text(root, "error_description") }
    }
}

impl fmt::Display for ProviderErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error.as_deref().unwrap_or("unspecified error"))?;
        if let Some(description) = &self.error_description {
            write!(f, " ({description})")?;
        }
        Ok(())
    }
}

impl oauth2::ErrorResponse for ProviderErrorResponse {}

#[cfg(test)]
mod tests {
    use super::*;

    struct Case {
        body: &'static str,
        access_token: Option<&'static str>,
        expires_in: Option<u64>,
        refresh_token: Option<&'static str>,
        refused: Option<&'static str>,
    }

    fn check(case: &Case) {
        let response: ProviderTokenResponse = serde_json::from_str(case.body).expect(case.body);
        match (response.problem(), case.refused, case.access_token) {
            (None, None, Some(token)) => assert_eq!(response.access_token().secret(), token, "{}", case.body),
            (Some(TokenProblem::Refused { error, .. }), Some(expected), _) => {
                assert_eq!(error, expected, "{}", case.body)
            }
            (Some(TokenProblem::NoAccessToken), None, None) => {}
            (problem, _, _) => panic!("{}: unexpected outcome (problem: {})", case.body, problem.is_some()),
        }
        assert_eq!(response.expires_in, case.expires_in, "{}", case.body);
        assert_eq!(response.refresh_token().map(|token| token.secret().as_str()), case.refresh_token, "{}", case.body);
    }

    #[test]
    fn token_answers_in_every_accepted_shape() {
        let cases = [
            Case {
                body: r#"{"access_token":"a","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}"#,
                access_token: Some("a"),
                expires_in: Some(3600),
                refresh_token: Some("r"),
                refused: None,
            },
            Case {
                body: r#"{"ok":true,"access_token":"xoxp-1","scope":"chat:write"}"#,
                access_token: Some("xoxp-1"),
                expires_in: None,
                refresh_token: None,
                refused: None,
            },
            Case {
                body: r#"{"ok":false,"error":"invalid_code"}"#,
                access_token: None,
                expires_in: None,
                refresh_token: None,
                refused: Some("invalid_code"),
            },
            Case {
                body: r#"{"ok":false}"#,
                access_token: None,
                expires_in: None,
                refresh_token: None,
                refused: Some("\"ok\": false without an error code"),
            },
            Case {
                body: r#"{"ok":true,"authed_user":{"access_token":"xoxp-2","refresh_token":"xoxe-1","expires_in":43200}}"#,
                access_token: Some("xoxp-2"),
                expires_in: Some(43200),
                refresh_token: Some("xoxe-1"),
                refused: None,
            },
            Case {
                body: r#"{"access_token":"a","expires_in":"3599"}"#,
                access_token: Some("a"),
                expires_in: Some(3599),
                refresh_token: None,
                refused: None,
            },
            Case {
                body: r#"{"access_token":"a","expires_in":-5}"#,
                access_token: Some("a"),
                expires_in: Some(0),
                refresh_token: None,
                refused: None,
            },
            Case {
                body: r#"{"access_token":"a","expires_in":12.7}"#,
                access_token: Some("a"),
                expires_in: Some(12),
                refresh_token: None,
                refused: None,
            },
            Case {
                body: r#"{"access_token":"a","expires_in":null}"#,
                access_token: Some("a"),
                expires_in: None,
                refresh_token: None,
                refused: None,
            },
            Case {
                body: r#"{"error":"invalid_grant","error_description":"expired"}"#,
                access_token: None,
                expires_in: None,
                refresh_token: None,
                refused: Some("invalid_grant"),
            },
            Case {
                body: r#"{"token_type":"bearer"}"#,
                access_token: None,
                expires_in: None,
                refresh_token: None,
                refused: None,
            },
            Case { body: r#"[1,2]"#, access_token: None, expires_in: None, refresh_token: None, refused: None },
        ];
        for case in &cases {
            check(case);
        }
    }
}
