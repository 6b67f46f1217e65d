//! Redaction of the actions log: secret headers by name, secret query parameters by name, secret values everywhere.
//!
//! Names catch credentials whose value we never saw (a cookie set by a proxy); values catch secrets wherever a
//! template put them (a payload, a URL, a header, a response that echoes the request). Values are matched by the
//! template crate's [`Redactor`]: raw, JSON-escaped and percent-encoded, the forms templates write them in.

pub use cutover_integrations_template::REDACTED;
use cutover_integrations_template::Redactor;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use std::collections::BTreeSet;
use std::fmt;

/// The bytes the `url` crate encodes in a query (the WHATWG query percent-encode set of special schemes).
const WHATWG_QUERY: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>').add(b'\'');

/// The bytes the `url` crate encodes in a path (the WHATWG path percent-encode set).
const WHATWG_PATH: &AsciiSet =
    &CONTROLS.add(b' ').add(b'"').add(b'#').add(b'<').add(b'>').add(b'?').add(b'`').add(b'{').add(b'}');

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
#[derive(Clone, Default)]
pub struct Redaction {
    /// Secret headers besides [`SECRET_HEADERS`], lower-case.
    headers: BTreeSet<String>,
    /// Secret query parameters besides [`SECRET_QUERY_PARAMETERS`].
    query_parameters: BTreeSet<String>,
    values: Redactor,
    /// The length of the shortest secret value: no shorter text can hold one, in any form.
    shortest: usize,
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
        if value.is_empty() {
            return;
        }
        self.values.add(value);
        // Parsing a URL (as the executor does before sending) encodes what a template left raw with the lighter
        // WHATWG sets, which the template crate's encodings do not produce.
        for set in [WHATWG_QUERY, WHATWG_PATH] {
            let encoded = utf8_percent_encode(value, set).to_string();
            if encoded != value {
                self.values.add(&encoded);
            }
        }
        self.shortest = if self.shortest == 0 { value.len() } else { self.shortest.min(value.len()) };
    }

    /// Hides the values an auth provider reports it added, skipping those another reported value already covers: a
    /// whole header value that contains the token, a form encoding the redactor derives from the token itself.
    pub fn add_credentials<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) {
        let values: Vec<&str> = values.into_iter().filter(|value| !value.is_empty()).collect();
        for (index, value) in values.iter().enumerate() {
            let covered = values.iter().enumerate().any(|(other_index, other)| {
                other_index != index
                    && other.len() < value.len()
                    && (value.contains(other)
                        || url::form_urlencoded::byte_serialize(other.as_bytes()).eq(std::iter::once(*value)))
            });
            if !covered {
                self.add_secret(value);
            }
        }
    }

    /// Hides the value of the header `name` (any case).
    pub fn add_header(&mut self, name: &str) {
        if !SECRET_HEADERS.iter().any(|known| known.eq_ignore_ascii_case(name)) {
            self.headers.insert(name.to_ascii_lowercase());
        }
    }

    /// Hides the value of the query parameter `name`.
    pub fn add_query_parameter(&mut self, name: &str) {
        if !SECRET_QUERY_PARAMETERS.contains(&name) {
            self.query_parameters.insert(name.to_owned());
        }
    }

    /// Whether the header `name` is hidden by name.
    pub fn is_secret_header(&self, name: &str) -> bool {
        SECRET_HEADERS.iter().any(|known| known.eq_ignore_ascii_case(name))
            || (!self.headers.is_empty() && self.headers.contains(&name.to_ascii_lowercase()))
    }

    fn is_secret_query_parameter(&self, name: &str) -> bool {
        SECRET_QUERY_PARAMETERS.contains(&name) || self.query_parameters.contains(name)
    }

    /// Whether `text` holds a secret value, in any form [`Redaction::text`] hides.
    pub fn holds_secret(&self, text: &str) -> bool {
        !self.values.is_empty() && text.len() >= self.shortest && self.values.redact(text) != text
    }

    /// `text` with every secret value replaced.
    pub fn text(&self, text: &str) -> String {
        if self.values.is_empty() || text.len() < self.shortest {
            return text.to_owned();
        }
        self.values.redact(text).into_owned()
    }

    /// Replaces every secret value in the strings of a JSON value (not its keys), in place.
    pub fn json(&self, value: &mut serde_json::Value) {
        if !self.values.is_empty() {
            self.values.redact_json(value);
        }
    }

    /// A header value as the log shows it: fully hidden for secret headers, secret values replaced otherwise.
    pub fn header_value(&self, name: &str, value: &str) -> String {
        if self.is_secret_header(name) { REDACTED.to_owned() } else { self.text(value) }
    }

    /// A URL as the log shows it: secret query parameters hidden by name, userinfo password hidden, secret values
    /// replaced everywhere. Text that is not a URL has its secret values replaced.
    pub fn url(&self, url: &str) -> String {
        match url::Url::parse(url) {
            Ok(parsed) => self.parsed_url(&parsed),
            Err(_) => self.text(url),
        }
    }

    /// [`Redaction::url`] of a parsed URL.
    pub fn parsed_url(&self, url: &url::Url) -> String {
        let mut shown = match url.query() {
            Some(query) if query.split('&').any(|pair| self.is_secret_pair(pair)) => {
                let mut rewritten = url.clone();
                let hidden: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((name, _)) if self.is_secret_pair(pair) => format!("{name}={REDACTED}"),
                        _ if self.is_secret_pair(pair) => format!("{pair}={REDACTED}"),
                        _ => pair.to_owned(),
                    })
                    .collect();
                rewritten.set_query(Some(&hidden.join("&")));
                rewritten.to_string()
            }
            _ => url.as_str().to_owned(),
        };
        if let Some(password) = url.password() {
            shown = shown.replacen(&format!(":{password}@"), &format!(":{REDACTED}@"), 1);
        }
        self.text(&shown)
    }

    /// Whether a `name=value` query pair has a secret name.
    fn is_secret_pair(&self, pair: &str) -> bool {
        let name = pair.split('=').next().unwrap_or_default();
        if !name.contains(['%', '+']) {
            return self.is_secret_query_parameter(name);
        }
        let decoded = percent_encoding::percent_decode_str(&name.replace('+', " ")).decode_utf8_lossy().into_owned();
        self.is_secret_query_parameter(&decoded)
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
    fn credentials_covered_by_another_reported_value_add_nothing_new() {
        let mut redaction = Redaction::default();
        redaction.add_credentials(["Bearer t0k/en+x", "t0k/en+x", "t0k%2Fen%2Bx", "t0k%2Fen%2Bx", ""]);
        let cases = [
            ("Authorization: Bearer t0k/en+x", "Authorization: Bearer [REDACTED]"),
            ("?a=t0k%2Fen%2Bx&b=t0k%2fen%2bx", "?a=[REDACTED]&b=t0k%2fen%2bx"),
            ("{\"t\":\"t0k/en+x\"}", "{\"t\":\"[REDACTED]\"}"),
            ("t0k", "t0k"),
        ];
        for (text, expected) in cases {
            assert_eq!(redaction.text(text), expected, "{text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever surrounds it and however it is encoded, a secret never survives redaction.
        #[test]
        fn secrets_never_survive(
            secret in "[a-z0-9 /+&=?\"%é-]{4,24}",
            before in "[a-zA-Z0-9 /+&=?\"%:{}-]{0,20}",
            after in "[a-zA-Z0-9 /+&=?\"%:{}-]{0,20}",
            form in 0usize..5,
        ) {
            let mut redaction = Redaction::default();
            redaction.add_secret(&secret);
            let json = serde_json::to_string(&secret).unwrap();
            let forms = [
                secret.clone(),
                json[1..json.len() - 1].to_owned(),
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
                {
                    let query = url::Url::parse(&format!("https://h/?q={secret}&end")).unwrap().query().unwrap().to_owned();
                    query["q=".len()..query.len() - "&end".len()].to_owned()
                },
                if secret.contains(['/', '%', '?', '#']) {
                    secret.clone()
                } else {
                    let path = url::Url::parse(&format!("https://h/{secret}/end")).unwrap().path().to_owned();
                    path["/".len()..path.len() - "/end".len()].to_owned()
                },
            ];
            let text = format!("{before}{}{after}", forms[form]);
            let shown = redaction.text(&text);
            proptest::prop_assert!(!shown.contains(&secret), "{shown}");
            proptest::prop_assert!(!shown.contains(&forms[form]), "{shown}");
        }
    }

    #[test]
    fn debug_does_not_show_secrets() {
        let shown = format!("{:?}", redaction());
        assert!(!shown.contains("s3cr") && !shown.contains("tok1"), "{shown}");
    }
}
