//! Escapers for the places a value lands: JSON string content, JSON values, URL components, header values, text.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use std::borrow::Cow;

/// Every byte except the URI's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is percent-encoded: the set for query
/// values, fragments and the `url_encode` filter. A value can never add a `&`, `=`, `#` or `/` of its own.
pub(crate) const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A path segment keeps RFC 3986 `pchar`s other than `/`, so a value stays one segment.
pub(crate) const URL_PATH_SEGMENT: &AsciiSet = &URL_COMPONENT
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// The text of a value where text is expected: strings as they are, numbers and booleans as JSON writes them, null as
/// nothing, lists and objects as their compact JSON.
pub(crate) fn value_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        Value::Bool(true) => Cow::Borrowed("true"),
        Value::Bool(false) => Cow::Borrowed("false"),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Array(_) | Value::Object(_) => Cow::Owned(value.to_string()),
    }
}

fn needs_json_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// `text` escaped as the content of a JSON string (without the quotes), borrowed when nothing needs escaping.
pub(crate) fn json_string_content(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let Some(first) = bytes.iter().position(|&b| needs_json_escape(b)) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    let mut run_start = first;
    for (i, &b) in bytes.iter().enumerate().skip(first) {
        if !needs_json_escape(b) {
            continue;
        }
        out.push_str(&text[run_start..i]);
        run_start = i + 1;
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
    }
    out.push_str(&text[run_start..]);
    Cow::Owned(out)
}

/// The first character of `text` that a header value may not hold (CR, LF, NUL).
pub(crate) fn forbidden_in_header(text: &str) -> Option<char> {
    text.chars().find(|c| matches!(c, '\r' | '\n' | '\0'))
}

/// The first character of `text` that may not appear in a URL's scheme and authority, where values are inserted as
/// they are: whitespace, control characters, and characters never valid in a URL.
pub(crate) fn forbidden_in_url_prefix(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '{' | '|' | '}')
    })
}

/// The first character of `text` that a URL's host may not hold: a host name (letters, digits, `-`, `.`, `_`) or an
/// IP address (an IPv6 address in brackets) passes whole; `/ ? # @ :` and the like can never move the request
/// elsewhere.
pub(crate) fn forbidden_in_url_host(text: &str) -> Option<char> {
    if let Some(inner) = text.strip_prefix('[').and_then(|rest| rest.strip_suffix(']'))
        && inner.parse::<std::net::Ipv6Addr>().is_ok()
    {
        return None;
    }
    text.chars().find(|&c| !(c.is_alphanumeric() || matches!(c, '-' | '.' | '_')))
}

/// The first character of `text` that is not an ASCII digit (a URL's port).
pub(crate) fn forbidden_in_url_port(text: &str) -> Option<char> {
    text.chars().find(|c| !c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_content_round_trips_through_a_json_parser() {
        let cases = ["plain", "quote \" backslash \\ slash /", "nl\ncr\rtab\t", "\u{0}\u{1f}\u{7f}", "emoji 🎉 é", ""];
        for text in cases {
            let quoted = format!("\"{}\"", json_string_content(text));
            let parsed: String = serde_json::from_str(&quoted).unwrap();
            assert_eq!(parsed, text);
        }
        assert!(matches!(json_string_content("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn hosts_and_ports_admit_only_names_addresses_and_digits() {
        let hosts = [
            ("acme", None),
            ("eu-1.acme_x", None),
            ("b\u{fc}cher", None),
            ("192.0.2.1", None),
            ("[2001:db8::1]", None),
            ("attacker.test:39103/steal#", Some(':')),
            ("a/b", Some('/')),
            ("a?b", Some('?')),
            ("a#b", Some('#')),
            ("user@attacker.test", Some('@')),
            ("a%2f", Some('%')),
            ("[not-v6]", Some('[')),
            ("a b", Some(' ')),
            ("a\\b", Some('\\')),
        ];
        for (text, expected) in hosts {
            assert_eq!(forbidden_in_url_host(text), expected, "{text}");
        }
        assert_eq!(forbidden_in_url_port("8443"), None);
        assert_eq!(forbidden_in_url_port("80/x"), Some('/'));
        assert_eq!(forbidden_in_url_port("-1"), Some('-'));
    }

    #[test]
    fn url_sets_keep_values_in_their_component() {
        let encode = |set| percent_encoding::utf8_percent_encode("a b/c?d&e=f#g+é~", set).to_string();
        assert_eq!(encode(URL_COMPONENT), "a%20b%2Fc%3Fd%26e%3Df%23g%2B%C3%A9~");
        assert_eq!(encode(URL_PATH_SEGMENT), "a%20b%2Fc%3Fd&e=f%23g+%C3%A9~");
    }
}
