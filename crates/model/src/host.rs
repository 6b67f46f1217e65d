//! The hosts an action may reach: [`HostPattern`] (an entry of `allowed_hosts`) and [`RedirectPolicy`] (`redirects`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// An entry of an action's `allowed_hosts`: an exact host name (`api.example.com`), an IP address (`192.0.2.7`,
/// `[2001:db8::7]`), or `*.suffix` (`*.service-now.com`: any host that ends with `.service-now.com`, not
/// `service-now.com` itself), optionally followed by `:PORT` to admit that port only.
///
/// Names compare without regard to case and to a final dot.
///
/// ```
/// use cutover_integrations_model::HostPattern;
/// let pattern = HostPattern::parse("*.Service-Now.com").unwrap();
/// assert!(pattern.matches("acme.service-now.com", 443));
/// assert!(!pattern.matches("service-now.com", 443));
/// assert!(!pattern.matches("acme.service-now.com.attacker.test", 443));
/// assert!(HostPattern::parse("127.0.0.1:8080").unwrap().matches("127.0.0.1", 8080));
/// assert!(HostPattern::parse("https://x.test").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern {
    /// The pattern as it is written back: lower-case, without a final dot.
    text: String,
    host: HostMatch,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostMatch {
    /// Exactly this name or address (IPv6 without brackets).
    Exact(String),
    /// Any name ending with `.` + this suffix.
    Suffix(String),
}

impl HostPattern {
    /// Reads a pattern; the error says what is wrong, as a sentence fragment.
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = || {
            format!(
                "`{text}` is not a host pattern: write a host name (`api.example.com`), an IP address, or `*.suffix` \
                 (`*.example.com`), optionally with `:PORT`"
            )
        };
        let lower = text.trim().to_ascii_lowercase();
        let (host, port) = split_port(&lower).ok_or_else(invalid)?;
        let host = host.strip_suffix('.').unwrap_or(host);
        let matcher = if let Some(suffix) = host.strip_prefix("*.") {
            if !is_host_name(suffix) {
                return Err(invalid());
            }
            HostMatch::Suffix(suffix.to_owned())
        } else if let Some(inner) = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
            let address: Ipv6Addr = inner.parse().map_err(|_| invalid())?;
            HostMatch::Exact(address.to_string())
        } else if host.parse::<Ipv4Addr>().is_ok() || is_host_name(host) {
            HostMatch::Exact(host.to_owned())
        } else {
            return Err(invalid());
        };
        let host_text = match &matcher {
            HostMatch::Exact(exact) if exact.contains(':') => format!("[{exact}]"),
            HostMatch::Exact(exact) => exact.clone(),
            HostMatch::Suffix(suffix) => format!("*.{suffix}"),
        };
        let text = match port {
            Some(port) => format!("{host_text}:{port}"),
            None => host_text,
        };
        Ok(Self { text, host: matcher, port })
    }

    /// The pattern as written back.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The port the pattern admits, when it names one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether a request to `host` (a URL's host: a name, an IPv4 address, or an IPv6 address with or without
    /// brackets) on `port` is admitted.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|own| own != port) {
            return false;
        }
        let host = host.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(host);
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        match &self.host {
            HostMatch::Exact(exact) if exact.contains(':') => {
                host.parse::<Ipv6Addr>().is_ok_and(|address| address.to_string() == *exact)
            }
            HostMatch::Exact(exact) => host == *exact,
            HostMatch::Suffix(suffix) => {
                host.len() > suffix.len() + 1 && host.ends_with(suffix.as_str()) && {
                    let dot = host.len() - suffix.len() - 1;
                    host.as_bytes()[dot] == b'.'
                }
            }
        }
    }
}

/// Splits `host:port` (a port of 1–65535), leaving IPv6 brackets alone.
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    let colon = if text.starts_with('[') { text.find(']').map(|end| end + 1) } else { text.find(':') };
    match colon {
        Some(index) if index < text.len() => {
            let (host, port) = text.split_at(index);
            let digits = port.strip_prefix(':')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 5 {
                return None;
            }
            let port: u16 = digits.parse().ok().filter(|port| *port > 0)?;
            Some((host, Some(port)))
        }
        _ => Some((text, None)),
    }
}

/// Labels of letters, digits, `-` and `_` (1–63 characters each) separated by dots, 253 characters at most.
fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl TryFrom<String> for HostPattern {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

impl From<HostPattern> for String {
    fn from(pattern: HostPattern) -> Self {
        pattern.text
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Which redirects an action's requests follow (`redirects`), and what goes with them.
///
/// Every hop is checked by the outbound guard whatever the policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RedirectPolicy {
    /// Redirects within the request's origin (scheme, host and port) are followed with everything. A redirect to
    /// another origin is followed without credentials and without any header that carries a secret; one that would
    /// resend a body (307, 308) is not followed, and the attempt fails.
    #[default]
    SameOrigin,
    /// Every redirect is followed with headers and body, secrets included. When the action lists `allowed_hosts`, a
    /// redirect to another host must be in the list.
    Any,
    /// No redirect is followed: a 3xx answer fails the attempt.
    None,
}

impl RedirectPolicy {
    /// Whether this is the default, `same_origin` (left out when a definition is written).
    pub fn is_default(&self) -> bool {
        *self == Self::SameOrigin
    }

    /// The word used in definition files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SameOrigin => "same_origin",
            Self::Any => "any",
            Self::None => "none",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_normalise_and_match() {
        // pattern, host, port, expected
        let cases = [
            ("api.example.com", "api.example.com", 443, true),
            ("API.Example.com.", "api.example.com.", 443, true),
            ("api.example.com", "www.api.example.com", 443, false),
            ("*.example.com", "a.b.example.com", 80, true),
            ("*.example.com", "example.com", 80, false),
            ("*.example.com", "badexample.com", 80, false),
            ("*.example.com", "example.com.attacker.test", 80, false),
            ("127.0.0.1:8080", "127.0.0.1", 8080, true),
            ("127.0.0.1:8080", "127.0.0.1", 8081, false),
            ("127.0.0.1", "127.0.0.1", 9, true),
            ("[2001:DB8::7]", "[2001:db8::7]", 443, true),
            ("[2001:db8::7]:8443", "2001:db8:0::7", 8443, true),
            ("[2001:db8::7]", "[2001:db8::8]", 443, false),
        ];
        for (pattern, host, port, expected) in cases {
            let parsed = HostPattern::parse(pattern).unwrap();
            assert_eq!(parsed.matches(host, port), expected, "{pattern} on {host}:{port}");
        }
        assert_eq!(HostPattern::parse("API.Example.com.").unwrap().as_str(), "api.example.com");
        assert_eq!(HostPattern::parse("[2001:DB8:0::7]:8443").unwrap().as_str(), "[2001:db8::7]:8443");
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "",
            "https://x.test",
            "x.test/path",
            "*",
            "*.",
            "a.*.test",
            "x.test:0",
            "x.test:65536",
            "x.test:",
            "user@x.test",
            "[nope]",
            "-x.test",
            "x..test",
            "x test",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
    }
}
