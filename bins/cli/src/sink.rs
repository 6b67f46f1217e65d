//! `cutover sink`: a third party on this machine to try runbooks against. It listens on a loopback address, answers
//! every request with 200 and a small JSON body (or with NNN for paths under `/status/NNN`), and prints each request
//! it receives: method, path, headers and body, credentials shown as `[REDACTED]`.

use crate::terminal::{complain, say};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use clap::Args;
use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

pub(crate) const EXAMPLES: &str = "\
Examples:
  # Listen on the quick start's address, in the background, then run the quick start against it.
  cutover sink --listen 127.0.0.1:8787 &
  cutover run examples/quickstart-runbook.yaml --integrations examples/quickstart-integration.yaml \\
      --allow-network 127.0.0.1/32 --param sink_token=s3cret

  # Any free port: the first line printed is `listening on http://127.0.0.1:PORT`.
  cutover sink --listen 127.0.0.1:0

  # A request to /status/503 is answered with 503, to try a failing task.
  curl -X POST http://127.0.0.1:8787/status/503";

/// Arguments of `cutover sink`.
#[derive(Debug, Args)]
pub(crate) struct SinkArgs {
    /// The loopback address and port to listen on; port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8787", value_parser = parse_loopback)]
    listen: SocketAddr,
}

fn parse_loopback(text: &str) -> Result<SocketAddr, String> {
    let address: SocketAddr =
        text.parse().map_err(|error| format!("{error}; expected IP:PORT such as 127.0.0.1:8787"))?;
    if address.ip().is_loopback() {
        Ok(address)
    } else {
        Err("the sink listens on loopback addresses only (127.0.0.1 or ::1)".to_owned())
    }
}

/// Serves until interrupted; exit 1 when the address cannot be bound.
pub(crate) fn run(args: &SinkArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            complain!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args.listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            complain!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(address: SocketAddr) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {address}: {error}"))?;
    let bound = listener.local_addr()?;
    say!("listening on http://{bound}");
    std::io::stdout().flush()?;
    let router = Router::new().fallback(answer);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn answer(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let status = requested_status(uri.path());
    let mut text = format!("{method} {}\n", redact_query(&uri));
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        text.push_str(&format!("  {name}: {}\n", redact_header(name.as_str(), &value)));
    }
    if !body.is_empty() {
        text.push_str(&format!("  {}\n", String::from_utf8_lossy(&body)));
    }
    text.push_str(&format!("  -> {}\n", status.as_u16()));
    crate::terminal::out(&text);
    let _ = std::io::stdout().flush();
    (status, [("content-type", "application/json")], format!("{{\"ok\":{}}}", status.is_success()))
}

/// The status a path asks for (`/status/503`), or 200.
fn requested_status(path: &str) -> StatusCode {
    path.strip_prefix("/status/")
        .and_then(|rest| rest.split('/').next())
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK)
}

fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["authorization", "cookie", "token", "secret", "password", "key", "signature"]
        .iter()
        .any(|word| name.contains(word))
        && name != "idempotency-key"
}

fn redact_header(name: &str, value: &str) -> String {
    if !is_secret_name(name) {
        return value.to_owned();
    }
    match value.split_once(' ') {
        Some((scheme, _)) if name.eq_ignore_ascii_case("authorization") => format!("{scheme} [REDACTED]"),
        _ => "[REDACTED]".to_owned(),
    }
}

fn redact_query(uri: &Uri) -> String {
    let Some(query) = uri.query() else { return uri.path().to_owned() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_secret_name(name) => format!("{name}=[REDACTED]"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{}?{}", uri.path(), pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_choose_the_status() {
        let cases =
            [("/hook", 200), ("/status/503", 503), ("/status/404/x", 404), ("/status/abc", 200), ("/status/99", 200)];
        for (path, expected) in cases {
            assert_eq!(requested_status(path).as_u16(), expected, "{path}");
        }
    }

    #[test]
    fn credentials_are_redacted() {
        let cases = [
            ("Authorization", "Bearer abc", "Bearer [REDACTED]"),
            ("authorization", "Basic dXNlcjpwYXNz", "Basic [REDACTED]"),
            ("X-Api-Key", "k-123", "[REDACTED]"),
            ("Idempotency-Key", "cutover-1-a-1-ff", "cutover-1-a-1-ff"),
            ("Content-Type", "application/json", "application/json"),
        ];
        for (name, value, expected) in cases {
            assert_eq!(redact_header(name, value), expected, "{name}");
        }
        let uri: Uri = "/search?q=release&api_key=abc&token=x".parse().expect("a URI");
        assert_eq!(redact_query(&uri), "/search?q=release&api_key=[REDACTED]&token=[REDACTED]");
    }

    #[test]
    fn only_loopback_addresses() {
        assert!(parse_loopback("127.0.0.1:0").is_ok());
        assert!(parse_loopback("[::1]:8787").is_ok());
        assert!(parse_loopback("0.0.0.0:8787").is_err());
        assert!(parse_loopback("localhost").is_err());
    }
}
