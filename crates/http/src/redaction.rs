//! Redaction of the actions log: secret headers by name, secret query parameters by name, secret values everywhere.
//!
//! Names catch credentials whose value we never saw (a cookie set by a proxy); values catch secrets wherever a
//! template put them (a payload, a URL, a header, a response that echoes the request). Values are matched by the
//! template crate's [`Redactor`]: raw, JSON-escaped and percent-encoded, the forms templates write them in.

pub use cutover_integrations_template::REDACTED;
use cutover_integrations_template::Redactor;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use std::collections::BTreeSet;
use std::fmt;

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
    values: Redactor,
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            headers: SECRET_HEADERS.iter().map(|name| (*name).to_owned()).collect(),
            query_parameters: SECRET_QUERY_PARAMETERS.iter().map(|name| (*name).to_owned()).collect(),
            values: Redactor::default(),
        }
    }
}

impl fmt::Debug for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redaction")
            .field("headers", &self.headers)
            .field("query_parameters", &self.query_parameters)
            .field("values", &self.values)
            .finish()
    }
}

impl Redaction {
    /// Hides `value` wherever it appears, raw, JSON-escaped or percent-encoded. Empty values are ignored; values shorter
    /// than four characters are hidden only where they make up a whole text (see the template crate's `Redactor`).
    pub fn add_secret(&mut self, value: &str) {
        self.values.add(value);
        // Clients that encode every non-alphanumeric byte (`-` as `%2D`) write a form the template crate never does.
        let strict = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
        if strict.len() >= 4 && strict != value {
            self.values.add(&strict);
        }
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
        self.values.redact(text).into_owned()
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
        redaction.add_secret("tok1");
        redaction.add_secret("ab");
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
            ("?q=s3cr%22et%2F%2B+key", "?q=[REDACTED]"),
            ("a tok1 and a tok12", "a [REDACTED] and a [REDACTED]2"),
            ("ab", "[REDACTED]"),
            ("a short ab stays", "a short ab stays"),
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
            ("X-Other", "has tok1 inside", "has [REDACTED] inside"),
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
            ("https://h/tok1/p?q=tok1", "https://h/[REDACTED]/p?q=[REDACTED]"),
            ("https://h/p?x=1", "https://h/p?x=1"),
            ("not a url tok1", "not a url [REDACTED]"),
        ];
        for (url, expected) in cases {
            assert_eq!(redaction.url(url), expected, "{url}");
        }
    }

    #[test]
    fn debug_does_not_show_secrets() {
        let shown = format!("{:?}", redaction());
        assert!(!shown.contains("s3cr") && !shown.contains("tok1"), "{shown}");
    }
}
