//! Redaction of the actions log: secret headers by name, secret query parameters by name, secret values everywhere.
//!
//! Names catch credentials whose value we never saw (a cookie set by a proxy); values catch secrets wherever a
//! template put them (a payload, a URL, a header, a response that echoes the request). Values are matched raw,
//! JSON-escaped and percent-encoded, because that is how templates write them into JSON payloads and URLs.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeSet;
use std::fmt;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Headers redacted by name whatever the auth provider reports.
const SECRET_HEADERS: [&str; 8] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-access-token",
    "api-key",
];

/// Query parameters redacted by name whatever the auth provider reports.
const SECRET_QUERY_PARAMETERS: [&str; 7] =
    ["access_token", "api_key", "apikey", "client_secret", "password", "token", "signature"];

/// The secrets of one fire and how to hide them.
#[derive(Clone)]
pub struct Redaction {
    headers: BTreeSet<String>,
    query_parameters: BTreeSet<String>,
    /// Every form of every secret value, longest first so a longer secret is never half-replaced by a shorter one.
    forms: Vec<String>,
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            headers: SECRET_HEADERS.iter().map(|name| (*name).to_owned()).collect(),
            query_parameters: SECRET_QUERY_PARAMETERS.iter().map(|name| (*name).to_owned()).collect(),
            forms: Vec::new(),
        }
    }
}

impl fmt::Debug for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redaction")
            .field("headers", &self.headers)
            .field("query_parameters", &self.query_parameters)
            .field("secrets", &self.forms.len())
            .finish()
    }
}

impl Redaction {
    /// Hides `value` wherever it appears, raw, JSON-escaped or percent-encoded. Empty values are ignored.
    pub fn add_secret(&mut self, value: &str) {
        if value.is_empty() {
            return;
        }
        let json = serde_json::to_string(value).unwrap_or_default();
        let json_inner = json.get(1..json.len().saturating_sub(1)).unwrap_or_default().to_owned();
        let percent = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
        let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
        for candidate in [value.to_owned(), json_inner, percent.to_lowercase(), percent, form] {
            if !candidate.is_empty() && !self.forms.contains(&candidate) {
                self.forms.push(candidate);
            }
        }
        self.forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    }

    /// Hides the value of the header `name` (any case).
    pub fn add_header(&mut self, name: &str) {
        self.headers.insert(name.to_ascii_lowercase());
    }

    /// Hides the value of the query parameter `name`.
    pub fn add_query_parameter(&mut self, name: &str) {
        self.query_parameters.insert(name.to_owned());
    }

    /// Whether the header `name` is hidden by name.
    pub fn is_secret_header(&self, name: &str) -> bool {
        self.headers.contains(&name.to_ascii_lowercase())
    }

    /// `text` with every secret value replaced.
    pub fn text(&self, text: &str) -> String {
        let mut redacted = text.to_owned();
        for form in &self.forms {
            if redacted.contains(form.as_str()) {
                redacted = redacted.replace(form.as_str(), REDACTED);
            }
        }
        redacted
    }

    /// A header value as the log shows it: fully hidden for secret headers, secret values replaced otherwise.
    pub fn header_value(&self, name: &str, value: &str) -> String {
        if self.is_secret_header(name) { REDACTED.to_owned() } else { self.text(value) }
    }

    /// A URL as the log shows it: secret query parameters hidden by name, userinfo password hidden, secret values
    /// replaced everywhere.
    pub fn url(&self, url: &str) -> String {
        let Ok(mut parsed) = url::Url::parse(url) else {
            return self.text(url);
        };
        let password = parsed.password().map(str::to_owned);
        let has_secret_parameter = parsed.query_pairs().any(|(name, _)| self.query_parameters.contains(name.as_ref()));
        if has_secret_parameter {
            let query = parsed.query().unwrap_or_default().to_owned();
            let rewritten: Vec<String> = query
                .split('&')
                .map(|pair| {
                    let name = pair.split('=').next().unwrap_or_default();
                    let decoded =
                        percent_encoding::percent_decode_str(&name.replace('+', " ")).decode_utf8_lossy().into_owned();
                    if self.query_parameters.contains(&decoded) {
                        format!("{name}={REDACTED}")
                    } else {
                        pair.to_owned()
                    }
                })
                .collect();
            parsed.set_query(Some(&rewritten.join("&")));
        }
        let mut shown = parsed.to_string();
        if let Some(password) = password {
            shown = shown.replacen(&format!(":{password}@"), &format!(":{REDACTED}@"), 1);
        }
        self.text(&shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redaction() -> Redaction {
        let mut redaction = Redaction::default();
        redaction.add_secret("s3cr\"et/+ key");
        redaction.add_secret("tok");
        redaction.add_secret("");
        redaction.add_header("X-Custom-Auth");
        redaction.add_query_parameter("sig");
        redaction
    }

    #[test]
    fn text_hides_every_form_of_every_secret() {
        let cases = [
            ("plain s3cr\"et/+ key here", "plain [REDACTED] here"),
            (r#"{"v":"s3cr\"et/+ key"}"#, r#"{"v":"[REDACTED]"}"#),
            ("?q=s3cr%22et%2F%2B%20key", "?q=[REDACTED]"),
            ("?q=s3cr%22et%2f%2b%20key", "?q=[REDACTED]"),
            ("?q=s3cr%22et%2F%2B+key", "?q=[REDACTED]"),
            ("a tok and a token", "a [REDACTED] and a [REDACTED]en"),
            ("nothing secret", "nothing secret"),
        ];
        for (text, expected) in cases {
            assert_eq!(redaction().text(text), expected, "{text}");
        }
    }

    #[test]
    fn headers_are_hidden_by_name_or_by_value() {
        let redaction = redaction();
        let cases = [
            ("Authorization", "Bearer abc", "[REDACTED]"),
            ("cookie", "a=b", "[REDACTED]"),
            ("X-API-Key", "k", "[REDACTED]"),
            ("x-custom-auth", "anything", "[REDACTED]"),
            ("X-Other", "has tok inside", "has [REDACTED] inside"),
            ("Content-Type", "application/json", "application/json"),
        ];
        for (name, value, expected) in cases {
            assert_eq!(redaction.header_value(name, value), expected, "{name}");
        }
    }

    #[test]
    fn urls_hide_parameters_by_name_passwords_and_values() {
        let redaction = redaction();
        let cases = [
            ("https://h/p?api_key=abc&x=1", "https://h/p?api_key=[REDACTED]&x=1"),
            ("https://h/p?sig=abc&password=def", "https://h/p?sig=[REDACTED]&password=[REDACTED]"),
            ("https://u:pw@h/p", "https://u:[REDACTED]@h/p"),
            ("https://h/tok/p?q=tok", "https://h/[REDACTED]/p?q=[REDACTED]"),
            ("https://h/p?x=1", "https://h/p?x=1"),
            ("not a url tok", "not a url [REDACTED]"),
        ];
        for (url, expected) in cases {
            assert_eq!(redaction.url(url), expected, "{url}");
        }
    }

    #[test]
    fn debug_does_not_show_secrets() {
        let shown = format!("{:?}", redaction());
        assert!(!shown.contains("s3cr") && !shown.contains("tok\""), "{shown}");
    }
}
