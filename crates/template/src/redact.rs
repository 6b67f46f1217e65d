//! [`Redactor`]: replaces secrets in text with `[REDACTED]`, in every form a request may carry them.

use crate::escape::{URL_COMPONENT, URL_PATH_SEGMENT, json_string_content};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this many characters are redacted only where they are a whole value, never inside text.
///
/// Replacing every occurrence of a two-letter secret would mangle unrelated text (and, by the gaps, reveal it anyway),
/// so a short secret is hidden where it stands alone: a text, header value or JSON string equal to it. Secret-bearing
/// fields are redacted wholesale by their callers regardless of length, and a secret that short is weak anyway.
pub const MIN_SUBSTRING_SECRET_LEN: usize = 4;

/// Replaces secrets in text with [`REDACTED`].
///
/// Each secret is searched in its raw form, JSON-escaped (as it appears inside a JSON body), percent-encoded as a URL
/// component, a URL path segment and a form value (`+` for spaces). Overlapping matches are merged. Empty secrets are
/// ignored; secrets shorter than [`MIN_SUBSTRING_SECRET_LEN`] are only redacted where they are the whole text.
///
/// ```
/// use cutover_integrations_template::Redactor;
/// let redactor = Redactor::new(["p@ss w\"rd"]);
/// assert_eq!(redactor.redact(r#"{"password":"p@ss w\"rd"}"#), r#"{"password":"[REDACTED]"}"#);
/// assert_eq!(redactor.redact("https://x.test/?k=p%40ss%20w%22rd"), "https://x.test/?k=[REDACTED]");
/// ```
#[derive(Clone, Default)]
pub struct Redactor {
    /// Forms searched inside text, longest first.
    substrings: Vec<SecretString>,
    /// Short secrets, matched as whole texts only.
    whole: Vec<SecretString>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor").field("forms", &(self.substrings.len() + self.whole.len())).finish()
    }
}

impl Redactor {
    /// A redactor for `secrets`.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut redactor = Self::default();
        for secret in secrets {
            redactor.add(secret.as_ref());
        }
        redactor
    }

    /// A redactor for secrets held as [`SecretString`]s.
    pub fn from_secrets<'a>(secrets: impl IntoIterator<Item = &'a SecretString>) -> Self {
        Self::new(secrets.into_iter().map(|s| s.expose_secret()))
    }

    /// Adds a secret.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        if secret.chars().count() < MIN_SUBSTRING_SECRET_LEN {
            self.whole.push(SecretString::from(secret.to_owned()));
            return;
        }
        let forms = [
            secret.to_owned(),
            json_string_content(secret).into_owned(),
            percent_encoding::utf8_percent_encode(secret, URL_COMPONENT).to_string(),
            percent_encoding::utf8_percent_encode(secret, URL_PATH_SEGMENT).to_string(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>(),
        ];
        for form in forms {
            if !self.substrings.iter().any(|s| s.expose_secret() == form) {
                self.substrings.push(SecretString::from(form));
            }
        }
        self.substrings.sort_by_key(|s| std::cmp::Reverse(s.expose_secret().len()));
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.substrings.is_empty() && self.whole.is_empty()
    }

    /// `text` with every secret replaced.
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.whole.iter().any(|s| s.expose_secret() == text) {
            return Cow::Borrowed(REDACTED);
        }
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for form in &self.substrings {
            let form = form.expose_secret();
            ranges.extend(text.match_indices(form).map(|(start, m)| (start, start + m.len())));
        }
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        ranges.sort_unstable();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut current: Option<(usize, usize)> = None;
        for (start, end) in ranges {
            match &mut current {
                Some((_, current_end)) if start <= *current_end => *current_end = (*current_end).max(end),
                _ => {
                    if let Some((s, e)) = current.take() {
                        out.push_str(&text[copied..s]);
                        out.push_str(REDACTED);
                        copied = e;
                    }
                    current = Some((start, end));
                }
            }
        }
        if let Some((s, e)) = current {
            out.push_str(&text[copied..s]);
            out.push_str(REDACTED);
            copied = e;
        }
        out.push_str(&text[copied..]);
        Cow::Owned(out)
    }

    /// Redacts every string (not the keys) of a JSON value in place.
    pub fn redact_json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                let redacted = self.redact(s);
                if redacted != s.as_str() {
                    *s = redacted.into_owned();
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(secrets: &[&str], text: &str, expected: &str) {
        assert_eq!(Redactor::new(secrets).redact(text), expected, "secrets {secrets:?} in {text:?}");
    }

    #[test]
    fn redacts_every_form() {
        check(&["hunter22"], "token hunter22 and hunter22", "token [REDACTED] and [REDACTED]");
        check(&["a\"b\\c\nd"], r#"{"x":"a\"b\\c\nd"}"#, r#"{"x":"[REDACTED]"}"#);
        check(&["a b&c/d"], "?q=a%20b%26c%2Fd", "?q=[REDACTED]");
        check(&["a b&c/d"], "/p/a%20b&c%2Fd", "/p/[REDACTED]");
        check(&["a b&c/d"], "q=a+b%26c%2Fd", "q=[REDACTED]");
        check(&["abcdef", "defghi"], "xxabcdefghixx", "xx[REDACTED]xx");
        check(&["secret"], "nothing here", "nothing here");
        check(&[""], "anything", "anything");
    }

    #[test]
    fn short_secrets_are_redacted_only_as_whole_values() {
        check(&["ab"], "ab", "[REDACTED]");
        check(&["ab"], "table cab", "table cab");
        let mut value = serde_json::json!({"k": "ab", "list": ["xab", "ab"]});
        Redactor::new(["ab"]).redact_json(&mut value);
        assert_eq!(value, serde_json::json!({"k": "[REDACTED]", "list": ["xab", "[REDACTED]"]}));
    }

    #[test]
    fn debug_shows_no_secret() {
        assert!(!format!("{:?}", Redactor::new(["hunter22"])).contains("hunter22"));
    }
}
