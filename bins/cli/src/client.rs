//! The HTTP client of the commands that drive a `cutover-server`: the `--server` and `--token` options, requests to
//! `/api/v1` with a Bearer token, the server's error body turned into lines on stderr, and JSON output for scripts.

use crate::terminal::complain;
use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;
use url::Url;

/// How long one request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The options of the commands that talk to a server; global, so they may come before or after the subcommand.
#[derive(Debug, Args)]
pub(crate) struct ServerOptions {
    /// The server's base URL, such as http://127.0.0.1:8080 (client commands only).
    #[arg(long, env = "CUTOVER_SERVER", global = true, value_name = "URL", help_heading = "Server options")]
    server: Option<Url>,
    /// An API token of the server (client commands only).
    #[arg(
        long,
        env = "CUTOVER_TOKEN",
        global = true,
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = parse_token,
        help_heading = "Server options"
    )]
    token: Option<SecretString>,
}

fn parse_token(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text.to_owned()))
}

/// The `--json` flag of a client command.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct Output {
    /// Print the server's JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The paging flags of a list command.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct Paging {
    /// At most N items (the server's page is 100 when not given, 1000 at most).
    #[arg(long, value_name = "N")]
    pub(crate) limit: Option<u32>,
    /// Resume where a previous page ended: the `next_cursor` it gave.
    #[arg(long, value_name = "CURSOR", conflicts_with = "all")]
    pub(crate) cursor: Option<String>,
    /// Follow every page to the end of the list.
    #[arg(long)]
    pub(crate) all: bool,
}

/// The flags of a list command: paging and output.
#[derive(Debug, Clone, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) paging: Paging,
    #[command(flatten)]
    pub(crate) output: Output,
}

/// A client of one server.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: Url,
    token: SecretString,
}

/// Why a client command failed.
#[derive(Debug)]
pub(crate) enum ClientError {
    /// The server answered with an error.
    Api { status: u16, code: String, message: String, details: Vec<(String, String)> },
    /// The server could not be reached, or answered something that is not the API.
    Connection { url: String, message: String },
    /// Local input is invalid: one line per problem.
    Invalid(Vec<String>),
}

impl ClientError {
    fn lines(&self) -> Vec<String> {
        match self {
            Self::Api { status, code, message, details } => {
                let mut lines = vec![format!("error: {message} ({status} {code})")];
                lines.extend(details.iter().map(|(path, message)| match path.is_empty() {
                    true => message.clone(),
                    false => format!("{path}: {message}"),
                }));
                lines
            }
            Self::Connection { url, message } => vec![format!("error: {url}: {message}")],
            Self::Invalid(lines) => lines.clone(),
        }
    }
}

/// Runs a client command: exit 2 when `--server` or `--token` is missing, 1 when the command fails (its error lines
/// on stderr), 0 otherwise.
pub(crate) fn call<F, Fut>(options: &ServerOptions, command: F) -> ExitCode
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<(), ClientError>>,
{
    let Some(base) = options.server.clone() else {
        clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "this command talks to a server: give --server URL (or set CUTOVER_SERVER)\n",
        )
        .exit()
    };
    let Some(token) = options.token.clone() else {
        clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "this command talks to a server: give --token TOKEN (or set CUTOVER_TOKEN)\n",
        )
        .exit()
    };
    let outcome = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| ClientError::Connection { url: base.to_string(), message: error.to_string() })
        .and_then(|runtime| {
            let http = reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .user_agent(concat!("cutover/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|error| ClientError::Connection { url: base.to_string(), message: error.to_string() })?;
            runtime.block_on(command(Client { http, base, token }))
        });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            for line in error.lines() {
                complain!("{line}");
            }
            ExitCode::FAILURE
        }
    }
}

impl Client {
    /// `GET /api/v1/{segments…}`.
    pub(crate) async fn get(&self, segments: &[&str]) -> Result<Value, ClientError> {
        let url = self.url(segments)?;
        self.send(self.http.get(url.clone()), url).await
    }

    /// A list route, `{"items": [...], "next_cursor": …}`: one page as `paging` asks, or with `--all` every page
    /// (followed with the largest page size unless `--limit` says otherwise) gathered into one. Without `--all`, a
    /// page with more after it says so on stderr (not with `--json`, whose `next_cursor` says it).
    pub(crate) async fn list(&self, segments: &[&str], paging: &Paging, output: Output) -> Result<Value, ClientError> {
        let mut items = Vec::new();
        let mut cursor = paging.cursor.clone();
        let limit = paging.limit.or(paging.all.then_some(1000));
        loop {
            let mut url = self.url(segments)?;
            if let Some(limit) = limit {
                url.query_pairs_mut().append_pair("limit", &limit.to_string());
            }
            if let Some(cursor) = &cursor {
                url.query_pairs_mut().append_pair("cursor", cursor);
            }
            let page = self.send(self.http.get(url.clone()), url).await?;
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            let next = page["next_cursor"].as_str().map(str::to_owned);
            match next {
                Some(next) if paging.all => cursor = Some(next),
                Some(next) => {
                    if !output.json {
                        complain!("more follow: add --cursor {next} for the next page, or --all for every page");
                    }
                    return Ok(serde_json::json!({"items": items, "next_cursor": next}));
                }
                None => return Ok(serde_json::json!({"items": items, "next_cursor": null})),
            }
        }
    }

    /// Every item of a list route, following its pages.
    pub(crate) async fn list_all(&self, segments: &[&str]) -> Result<Value, ClientError> {
        let paging = Paging { all: true, ..Paging::default() };
        self.list(segments, &paging, Output { json: true }).await
    }

    /// `POST /api/v1/{segments…}` with a JSON body.
    pub(crate) async fn post_json(&self, segments: &[&str], body: &Value) -> Result<Value, ClientError> {
        let url = self.url(segments)?;
        self.send(self.http.post(url.clone()).json(body), url).await
    }

    /// `POST /api/v1/{segments…}?{query}` with a text body of `content_type`, such as a YAML definition file.
    pub(crate) async fn post_text(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        content_type: &str,
        body: String,
    ) -> Result<Answer, ClientError> {
        let mut url = self.url(segments)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = self.http.post(url.clone()).header(reqwest::header::CONTENT_TYPE, content_type).body(body);
        self.exchange(request, url).await
    }

    /// The URL of an API route; each segment is percent-encoded, so task ids may hold any character.
    fn url(&self, segments: &[&str]) -> Result<Url, ClientError> {
        let mut url = self.base.clone();
        {
            let mut path = url.path_segments_mut().map_err(|()| ClientError::Connection {
                url: self.base.to_string(),
                message: "not a base URL such as http://127.0.0.1:8080".to_owned(),
            })?;
            path.pop_if_empty().extend(["api", "v1"]).extend(segments);
        }
        Ok(url)
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: Url) -> Result<Value, ClientError> {
        Ok(self.exchange(request, url).await?.body)
    }

    async fn exchange(&self, request: reqwest::RequestBuilder, url: Url) -> Result<Answer, ClientError> {
        let connection = |message: String| ClientError::Connection { url: url.to_string(), message };
        let response = request
            .bearer_auth(self.token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| connection(format!("cannot reach the server: {}", error_chain(&error))))?;
        let status = response.status();
        let text = response.text().await.map_err(|error| connection(format!("cannot read the response: {error}")))?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(Answer { status: status.as_u16(), body: Value::Null });
            }
            let body = serde_json::from_str(&text).map_err(|error| {
                connection(format!("the server answered {status} with a body that is not JSON: {error}"))
            })?;
            return Ok(Answer { status: status.as_u16(), body });
        }
        Err(api_error(status.as_u16(), &text))
    }
}

/// A successful answer: its status (201 created, 200 found) and JSON body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

/// The contract's error body `{"error":{"code","message","details":[{"path","message"}]}}`, or the status and text
/// when the body is something else.
fn api_error(status: u16, text: &str) -> ClientError {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let error = &body["error"];
    let string = |value: &Value| value.as_str().map(str::to_owned);
    let details = error["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .map(|detail| {
                    let path = string(&detail["path"]).unwrap_or_default();
                    // A definition file's problem is positioned like `cutover validate` prints it.
                    let path = match (string(&detail["file"]), detail["line"].as_u64(), detail["column"].as_u64()) {
                        (Some(file), Some(line), Some(column)) => format!("{file}:{line}:{column}: {path}"),
                        _ => path,
                    };
                    (path, string(&detail["message"]).unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    ClientError::Api {
        status,
        code: string(&error["code"]).unwrap_or_else(|| "unknown".to_owned()),
        message: string(&error["message"]).unwrap_or_else(|| {
            let text = text.trim();
            if text.is_empty() { "the server refused the request".to_owned() } else { text.to_owned() }
        }),
        details,
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Prints a JSON value, pretty, on stdout.
pub(crate) fn print_json(value: &Value) {
    crate::terminal::out_raw(&format!(
        "{}\n",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    ));
}

/// The items of a list response: the array itself, or the one array inside an object such as `{"runbooks":[…]}`.
pub(crate) fn items(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Object(fields) => {
            let arrays: Vec<&Vec<Value>> = fields.values().filter_map(Value::as_array).collect();
            match arrays.as_slice() {
                [items] => (*items).clone(),
                _ => vec![value.clone()],
            }
        }
        _ => Vec::new(),
    }
}

/// A field of an object as text: the first of `names` that is present; strings bare, other values as JSON, absent
/// or null as empty.
pub(crate) fn field(value: &Value, names: &[&str]) -> String {
    for name in names {
        match value.get(*name) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => return text.clone(),
            Some(other) => return other.to_string(),
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_lines() {
        let cases = [
            (
                422,
                r#"{"error":{"code":"validation_failed","message":"2 problems","details":[{"path":"tasks[0].action","message":"unknown action"},{"path":"","message":"and one more"}]}}"#,
                vec!["error: 2 problems (422 validation_failed)", "tasks[0].action: unknown action", "and one more"],
            ),
            (
                409,
                r#"{"error":{"code":"not_allowed","message":"the task is complete"}}"#,
                vec!["error: the task is complete (409 not_allowed)"],
            ),
            (
                422,
                r#"{"error":{"code":"invalid_definition","message":"1 problem","details":[{"path":"tasks[2].action","message":"unknown action","file":"r.yaml","line":13,"column":13}]}}"#,
                vec!["error: 1 problem (422 invalid_definition)", "r.yaml:13:13: tasks[2].action: unknown action"],
            ),
            (502, "Bad Gateway", vec!["error: Bad Gateway (502 unknown)"]),
            (500, "", vec!["error: the server refused the request (500 unknown)"]),
        ];
        for (status, body, expected) in cases {
            assert_eq!(api_error(status, body).lines(), expected, "{body}");
        }
    }

    #[test]
    fn urls_encode_each_segment_under_api_v1() {
        let cases = [
            (
                "http://127.0.0.1:8080",
                vec!["runbooks", "3", "tasks", "a b/c"],
                "http://127.0.0.1:8080/api/v1/runbooks/3/tasks/a%20b%2Fc",
            ),
            ("http://h/prefix/", vec!["runbooks"], "http://h/prefix/api/v1/runbooks"),
        ];
        for (base, segments, expected) in cases {
            let client = Client {
                http: reqwest::Client::new(),
                base: Url::parse(base).expect("a URL"),
                token: SecretString::from("t".to_owned()),
            };
            assert_eq!(client.url(&segments).expect("a URL").as_str(), expected);
        }
    }

    #[test]
    fn list_items_and_fields() {
        let wrapped: Value = serde_json::json!({"runbooks": [{"id": 1, "name": "R", "stage": null}]});
        let items = items(&wrapped);
        assert_eq!(items.len(), 1);
        assert_eq!(field(&items[0], &["id"]), "1");
        assert_eq!(field(&items[0], &["title", "name"]), "R");
        assert_eq!(field(&items[0], &["stage"]), "");
        assert_eq!(super::items(&serde_json::json!([1, 2])).len(), 2);
    }
}
