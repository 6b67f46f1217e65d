//! One HTTP exchange on the shared reqwest client: SSRF checks, redirects followed by hand, a capped body, and
//! transport errors sorted into [`ErrorKind`]s with a human reason.
//!
//! Redirects are followed here rather than by reqwest's redirect policy so that every hop is checked by the SSRF
//! guard before it is requested, and so that the action's [`RedirectPolicy`] decides what crosses to another origin:
//! under the default `same_origin`, a cross-origin hop drops every credential header and every header that carries a
//! secret, and a hop that would resend a body to another origin is refused (reqwest's own policy drops `Authorization`
//! and `Cookie` but not an API key in `X-Api-Key`, nor a custom header templated from a secret).

use crate::outbound::{GuardedResolver, NameRefused};
use crate::{ErrorKind, ExecutorConfig, HttpError, OutboundPolicy};
use cutover_integrations_model::{HostPattern, HttpMethod, RedirectPolicy};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// A request exactly as it goes on the wire, credentials included. Never logged as it is.
#[derive(Clone)]
pub(crate) struct WireRequest {
    pub(crate) method: HttpMethod,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<String>,
}

/// A response as received, its body read up to the configured cap.
#[derive(Debug, Clone)]
pub(crate) struct WireResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) truncated: bool,
    pub(crate) final_url: Option<String>,
}

impl WireResponse {
    /// The first value of a header, by case-insensitive name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(header, _)| header.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// A failed exchange.
#[derive(Debug, Clone)]
pub(crate) struct TransportFailure {
    pub(crate) kind: ErrorKind,
    pub(crate) reason: String,
    /// Whether another attempt may fare better (a refused connection, a timeout).
    pub(crate) retryable: bool,
}

impl TransportFailure {
    /// A failure another attempt would repeat.
    pub(crate) fn new(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self { kind, reason: reason.into(), retryable: false }
    }

    /// A failure another attempt may not repeat.
    pub(crate) fn transient(kind: ErrorKind, reason: impl Into<String>) -> Self {
        Self { kind, reason: reason.into(), retryable: true }
    }
}

/// What the action's definition says about redirects, and how to recognise the secrets a request carries.
pub(crate) struct RedirectRules<'a> {
    /// Which redirects are followed, and what crosses origins with them.
    pub(crate) policy: RedirectPolicy,
    /// The action's `allowed_hosts` (any host when empty).
    pub(crate) allowed_hosts: &'a [HostPattern],
    /// Whether a header (name, value) is a credential or carries a secret.
    pub(crate) is_secret_header: &'a (dyn Fn(&str, &str) -> bool + Sync),
}

/// Refuses a URL whose host is not in a non-empty `allowed_hosts`.
pub(crate) fn check_allowed_host(allowed_hosts: &[HostPattern], url: &Url) -> Result<(), TransportFailure> {
    if allowed_hosts.is_empty() {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(0);
    if allowed_hosts.iter().any(|pattern| pattern.matches(host, port)) {
        return Ok(());
    }
    let shown = match url.port() {
        Some(port) if allowed_hosts.iter().any(|pattern| pattern.matches(host, pattern.port().unwrap_or(port))) => {
            format!("{host}:{port}")
        }
        _ => host.to_owned(),
    };
    Err(TransportFailure::new(
        ErrorKind::SsrfBlocked,
        format!("Blocked: host `{shown}` is not in the action's allowed hosts"),
    ))
}

/// The shared client and the rules it sends by.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
    max_redirects: u32,
    body_limit: usize,
}

impl Transport {
    pub(crate) fn new(config: &ExecutorConfig) -> Result<Self, HttpError> {
        let policy = Arc::new(config.outbound.clone());
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy: Arc::clone(&policy) }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(config.connect_timeout)
            // No client-wide total timeout: `send` bounds each whole exchange (redirects and body included).
            .user_agent(config.user_agent.clone())
            .tcp_nodelay(true)
            .build()
            .map_err(|error| HttpError::Client { reason: error_chain(&error) })?;
        Ok(Self { client, policy, max_redirects: config.max_redirects, body_limit: config.response_body_limit })
    }

    /// Sends `request`, following redirects as `rules` say, within `timeout` for the whole exchange.
    pub(crate) async fn send(
        &self,
        request: &WireRequest,
        timeout: Duration,
        rules: &RedirectRules<'_>,
    ) -> Result<WireResponse, TransportFailure> {
        match tokio::time::timeout(timeout, self.follow(request, rules)).await {
            Ok(result) => result,
            Err(_) => Err(TransportFailure::transient(
                ErrorKind::Timeout,
                format!("Timed out: no complete response within {} s", timeout.as_secs_f64()),
            )),
        }
    }

    async fn follow(&self, request: &WireRequest, rules: &RedirectRules<'_>) -> Result<WireResponse, TransportFailure> {
        let mut url = request.url.clone();
        let mut method = request.method;
        let mut headers = request.headers.clone();
        let mut body = request.body.clone();
        let mut redirects = 0;
        loop {
            self.check_url(&url)?;
            let mut builder = self.client.request(reqwest_method(method), url.clone()).headers(headers.clone());
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(|error| classify(&error))?;
            let status = response.status().as_u16();
            let location = response.headers().get(reqwest::header::LOCATION).and_then(|value| value.to_str().ok());
            let Some(location) = location.filter(|_| matches!(status, 301 | 302 | 303 | 307 | 308)) else {
                let final_url = (redirects > 0).then(|| url.to_string());
                return self.read(response, final_url).await;
            };
            if rules.policy == RedirectPolicy::None {
                return Err(TransportFailure::new(
                    ErrorKind::Redirect,
                    format!("Redirect not followed (status {status}): the action's `redirects` is `none`"),
                ));
            }
            redirects += 1;
            if redirects > self.max_redirects {
                return Err(TransportFailure::new(
                    ErrorKind::Redirect,
                    format!("Too many redirects: more than {}", self.max_redirects),
                ));
            }
            let next = url.join(location).map_err(|error| {
                TransportFailure::new(ErrorKind::Redirect, format!("Invalid redirect location `{location}`: {error}"))
            })?;
            if status == 303 || (matches!(status, 301 | 302) && method == HttpMethod::Post) {
                method = HttpMethod::Get;
                body = None;
                headers.remove(reqwest::header::CONTENT_TYPE);
                headers.remove(reqwest::header::CONTENT_LENGTH);
            }
            if next.origin() != url.origin() {
                match rules.policy {
                    RedirectPolicy::Any => check_allowed_host(rules.allowed_hosts, &next)?,
                    RedirectPolicy::SameOrigin | RedirectPolicy::None => {
                        if body.is_some() {
                            return Err(TransportFailure::new(
                                ErrorKind::Redirect,
                                format!(
                                    "Redirect to another origin ({}) not followed (status {status}): it would resend \
                                     the request body, and the action's `redirects` is `same_origin`",
                                    next.origin().ascii_serialization()
                                ),
                            ));
                        }
                        let names: Vec<HeaderName> = headers
                            .iter()
                            .filter(|(name, value)| {
                                is_credential_header(name.as_str())
                                    || (rules.is_secret_header)(
                                        name.as_str(),
                                        &String::from_utf8_lossy(value.as_bytes()),
                                    )
                            })
                            .map(|(name, _)| name.clone())
                            .collect();
                        for name in names {
                            headers.remove(name);
                        }
                    }
                }
            }
            url = next;
        }
    }

    /// Refuses URLs that are not http(s) and literal addresses the policy refuses; names are checked on connect.
    fn check_url(&self, url: &Url) -> Result<(), TransportFailure> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TransportFailure::new(
                ErrorKind::InvalidRequest,
                format!("Unsupported URL scheme `{}`: only http and https are allowed", url.scheme()),
            ));
        }
        if url.host().is_none() {
            return Err(TransportFailure::new(ErrorKind::InvalidRequest, "The URL has no host"));
        }
        self.policy
            .check_url(url)
            .map_err(|refusal| TransportFailure::new(ErrorKind::SsrfBlocked, format!("Blocked: {refusal}")))
    }

    async fn read(
        &self,
        mut response: reqwest::Response,
        final_url: Option<String>,
    ) -> Result<WireResponse, TransportFailure> {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(|error| classify(&error))? {
            let room = self.body_limit - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(WireResponse { status, headers, body, truncated, final_url })
    }
}

/// Headers that never follow a request to another origin.
fn is_credential_header(name: &str) -> bool {
    matches!(name, "authorization" | "proxy-authorization" | "cookie" | "cookie2" | "x-api-key")
}

pub(crate) fn reqwest_method(method: HttpMethod) -> reqwest::Method {
    match method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
    }
}

/// Builds a header map, refusing invalid names and values (CR, LF, NUL).
pub(crate) fn header_map(headers: &[(String, String)]) -> Result<HeaderMap, TransportFailure> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| TransportFailure::new(ErrorKind::InvalidRequest, format!("Invalid header name `{name}`")))?;
        let header_value = HeaderValue::from_str(value).map_err(|_| {
            TransportFailure::new(ErrorKind::InvalidRequest, format!("Invalid value of header `{name}`"))
        })?;
        map.append(header_name, header_value);
    }
    Ok(map)
}

/// Sorts a reqwest error into a kind, with a reason that names the cause and never the URL.
fn classify(error: &reqwest::Error) -> TransportFailure {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(refused) = current.downcast_ref::<NameRefused>() {
            return TransportFailure::new(ErrorKind::SsrfBlocked, format!("Blocked: {refused}"));
        }
        let tls = current.downcast_ref::<rustls::Error>().or_else(|| {
            current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()?.downcast_ref::<rustls::Error>())
        });
        if let Some(tls) = tls {
            return TransportFailure::new(ErrorKind::Tls, format!("TLS failed: {tls}"));
        }
        source = current.source();
    }
    let cause = error_chain(error);
    if error.is_timeout() {
        TransportFailure::transient(ErrorKind::Timeout, format!("Timed out: {cause}"))
    } else {
        TransportFailure::transient(ErrorKind::ConnectionFailed, format!("Connection failed: {cause}"))
    }
}

/// The messages of an error's sources, most specific last, without reqwest's outer "error sending request for url".
fn error_chain(error: &reqwest::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(current) = source {
        let message = current.to_string();
        if !messages.last().is_some_and(|previous| previous.contains(&message)) {
            messages.push(message);
        }
        source = current.source();
    }
    if messages.is_empty() {
        messages.push(error.to_string());
    }
    messages.join(": ")
}

/// A `curl` command line that sends the request, each argument quoted for a POSIX shell.
pub(crate) fn curl_line(method: &str, url: &str, headers: &[(String, String)], body: Option<&str>) -> String {
    let headers_length: usize = headers.iter().map(|(name, value)| name.len() + value.len() + 8).sum();
    let mut line = String::with_capacity(32 + url.len() + headers_length + body.map_or(0, str::len));
    line.push_str("curl");
    if method != "GET" {
        line.push_str(" -X ");
        line.push_str(method);
    }
    line.push(' ');
    push_quoted(&mut line, &[url]);
    for (name, value) in headers {
        line.push_str(" -H ");
        push_quoted(&mut line, &[name, ": ", value]);
    }
    if let Some(body) = body {
        line.push_str(" --data-raw ");
        push_quoted(&mut line, &[body]);
    }
    line
}

/// Appends the concatenated `parts` as one single-quoted shell word.
fn push_quoted(line: &mut String, parts: &[&str]) {
    line.push('\'');
    for part in parts {
        for (index, piece) in part.split('\'').enumerate() {
            if index > 0 {
                line.push_str(r"'\''");
            }
            line.push_str(piece);
        }
    }
    line.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_line_quotes_for_the_shell() {
        let headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        let cases = [
            ("GET", "https://h/p?a=1&b=2", vec![], None, "curl 'https://h/p?a=1&b=2'"),
            (
                "POST",
                "https://h/p",
                headers.clone(),
                Some(r#"{"text":"it's"}"#),
                r#"curl -X POST 'https://h/p' -H 'Content-Type: application/json' --data-raw '{"text":"it'\''s"}'"#,
            ),
            ("DELETE", "https://h/$x", vec![], None, "curl -X DELETE 'https://h/$x'"),
        ];
        for (method, url, headers, body, expected) in cases {
            assert_eq!(curl_line(method, url, &headers, body), expected);
        }
    }
}
