//! Every kind of secret goes out on the wire and appears nowhere in the actions log or its `curl` lines.

mod common;

use common::*;
use cutover_integrations_auth::{ApiKeyAuth, AuthProvider, BasicAuth, FireSubject, TokenAuth};
use cutover_integrations_http::{CallbackAuthority, FireContext, FireLog};
use cutover_integrations_model::ApiKeyLocation;
use mockito::Matcher;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;

const SYSTEM_SECRET: &str = "sys-S3cr3t \"q\" & /+=";
const TOKEN: &str = "tok-AbC/123+=";
const PASSWORD: &str = "p@ss:w0rd\"x";
const QUERY_KEY: &str = "ak-q/&=?9";
const HEADER_KEY: &str = "ak-h-999";
const COOKIE: &str = "cookie-val-777";
const SET_COOKIE: &str = "set-cookie-888";

fn subject() -> FireSubject {
    FireSubject { action: "a-1".into(), runbook: "rb-1".into(), task: "task-1".into(), user: None }
}

fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap();
    let percent = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    vec![secret.to_owned(), json[1..json.len() - 1].to_owned(), percent.to_lowercase(), percent, form]
}

/// Checks that no form of any secret appears in `shown`.
fn assert_hidden(shown: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        for form in forms(secret) {
            assert!(!shown.contains(&form), "{what} shows `{form}` (a form of a secret):\n{shown}");
        }
    }
}

/// An action whose templates put the secret system parameter in the URL path and query, a header and the JSON body,
/// the callback token in the body, and a cookie in a header.
fn secret_action() -> cutover_integrations_http::PreparedAction {
    let definition = action(json!({
        "request": {
            "method": "POST",
            "url": "{{SystemParameter.base}}/hook/{{SystemParameter.api_secret}}?q={{SystemParameter.api_secret}}&plain=1",
            "headers": {
                "X-Sys": "{{SystemParameter.api_secret}}",
                "Cookie": format!("session={COOKIE}"),
            },
            "payload": r#"{"password": "{{SystemParameter.api_secret}}", "callback_token": "{{Callback.token}}"}"#,
        },
    }));
    cutover_integrations_http::PreparedAction::compile(&definition).expect("valid templates")
}

fn secret_fire(base: &str, provider: Arc<dyn AuthProvider>) -> FireContext {
    let authority = CallbackAuthority::new([3; 32], "https://cutover.example");
    FireContext::new(
        "fire-1",
        "rb-1",
        "task-1",
        json!({"SystemParameter": {"api_secret": SYSTEM_SECRET, "base": base}, "CustomField": {}}),
    )
    .with_secret(SYSTEM_SECRET)
    .with_secret(COOKIE)
    .with_callback(authority.mint("fire-1"))
    .with_auth(provider, subject())
}

#[tokio::test]
async fn no_secret_reaches_the_log_or_the_curl_line() {
    let mut server = mockito::Server::new_async().await;
    let providers: Vec<(Arc<dyn AuthProvider>, Matcher, &str)> = vec![
        (
            Arc::new(TokenAuth::new("Bearer", SecretString::from(TOKEN))),
            Matcher::Exact(format!("Bearer {TOKEN}")),
            "authorization",
        ),
        (
            Arc::new(BasicAuth::new("user", SecretString::from(PASSWORD))),
            Matcher::Regex("^Basic ".to_owned()),
            "authorization",
        ),
        (
            Arc::new(ApiKeyAuth::new(ApiKeyLocation::Header, "X-Service-Key", SecretString::from(HEADER_KEY))),
            Matcher::Exact(HEADER_KEY.to_owned()),
            "x-service-key",
        ),
        (Arc::new(ApiKeyAuth::new(ApiKeyLocation::Query, "k", SecretString::from(QUERY_KEY))), Matcher::Any, "x-sys"),
    ];
    let base = server.url();
    let fire_token = secret_fire(&base, providers[0].0.clone()).callback.unwrap().token.expose_secret().to_owned();
    let mut logs: Vec<FireLog> = Vec::new();
    for (provider, credential, header) in providers {
        // The server sees every secret (so the log has something to hide) and echoes the system secret back.
        let mock = server
            .mock("POST", Matcher::Regex("^/hook/".to_owned()))
            .match_header(header, credential)
            .match_header("x-sys", SYSTEM_SECRET)
            .match_header("cookie", format!("session={COOKIE}").as_str())
            .match_body(Matcher::PartialJson(json!({"password": SYSTEM_SECRET, "callback_token": fire_token})))
            .with_status(500)
            .with_header("set-cookie", &format!("sid={SET_COOKIE}"))
            .with_body(json!({"error": "bad password", "echo": SYSTEM_SECRET}).to_string())
            .expect(1)
            .create_async()
            .await;
        let mut config = config();
        config.retry.max_attempts = 1;

        let log =
            executor_with(config).0.run_to_completion(&secret_action(), &secret_fire(&base, provider), None).await;

        mock.assert_async().await;
        mock.remove_async().await;
        logs.push(log);
    }
    let query_sent = logs[3].attempts().next().unwrap().request.as_ref().unwrap().url.clone();
    assert!(query_sent.contains("k=[REDACTED]"), "the query key is hidden by name: {query_sent}");

    // A transport failure's reason must not leak the URL's secrets either.
    let closed = closed_port().await;
    let provider: Arc<dyn AuthProvider> =
        Arc::new(ApiKeyAuth::new(ApiKeyLocation::Query, "k", SecretString::from(QUERY_KEY)));
    let fire = secret_fire(&format!("http://{closed}"), provider);
    logs.push(executor().0.run_to_completion(&secret_action(), &fire, None).await);

    let secrets = [SYSTEM_SECRET, TOKEN, PASSWORD, QUERY_KEY, HEADER_KEY, COOKIE, SET_COOKIE, fire_token.as_str()];
    for log in &logs {
        let serialized = serde_json::to_string_pretty(log).unwrap();
        assert_hidden(&serialized, &secrets, "the serialized log");
        assert_hidden(&format!("{log:?}"), &secrets, "the log's Debug");
        assert!(serialized.contains("[REDACTED]"));
        for attempt in log.attempts() {
            let request = attempt.request.as_ref().unwrap();
            assert_hidden(&request.curl, &secrets, "the curl line");
            assert!(request.curl.contains("-H 'Cookie: [REDACTED]'"), "{}", request.curl);
            assert!(request.url.contains("plain=1"), "unsecret parts stay readable: {}", request.url);
        }
    }
    let authorization = logs[0].attempts().next().unwrap().request.as_ref().unwrap().headers.clone();
    assert!(authorization.iter().any(|header| header.name == "Authorization" && header.value == "[REDACTED]"));
    let response = logs[0].attempts().next().unwrap().response.clone().unwrap();
    assert!(response.body.contains("\"echo\":\"[REDACTED]\""), "{}", response.body);
    assert!(response.headers.iter().any(|header| header.name == "set-cookie" && header.value == "[REDACTED]"));
}

/// A value computed from a secret is a secret: a secret parameter through `upcase`, `replace` and `split`/`join` is
/// hidden in the log and the curl line; a response that echoes a secret (raw, derived, or the Basic credentials'
/// base64) does not carry it into a custom field.
#[tokio::test]
async fn derived_secrets_and_echoed_secrets_are_hidden() {
    use base64::Engine as _;
    use cutover_integrations_model::FieldValue;
    const KEY: &str = "alpha-Beta-gamma-42";
    let upper = KEY.to_uppercase();
    let replaced = KEY.replace('-', "_");
    let joined = KEY.split('-').collect::<Vec<_>>().join("+");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("user:{PASSWORD}"));
    let mut server = mockito::Server::new_async().await;
    let echo = json!({"echo": upper, "basic": basic, "list": [joined, "plain"], "id": "T-1"});
    let mock = server
        .mock("POST", "/hook")
        .match_header("x-sig", upper.as_str())
        .match_body(Matcher::PartialJson(json!({"replaced": replaced, "joined": joined})))
        .with_body(echo.to_string())
        .expect(1)
        .create_async()
        .await;
    let definition = action(json!({
        "request": {
            "method": "POST",
            "url": format!("{}/hook", server.url()),
            "headers": {"X-Sig": "{{SystemParameter.key | upcase}}"},
            "payload": r#"{"replaced": "{{SystemParameter.key | replace: '-', '_'}}", "joined": "{{SystemParameter.key | split: '-' | join: '+'}}"}"#,
            "execution_mode": "sync",
        },
        "response": {"map": {"Echo": "echo", "Basic": "basic", "List": "list", "Id": "id"}},
    }));
    let prepared = cutover_integrations_http::PreparedAction::compile(&definition).expect("valid templates");
    let provider: Arc<dyn AuthProvider> = Arc::new(BasicAuth::new("user", SecretString::from(PASSWORD)));
    let fire = FireContext::new("fire-1", "rb-1", "task-1", json!({"SystemParameter": {"key": KEY}}))
        .with_secret(KEY)
        .with_auth(provider, subject());

    let log = executor().0.run_to_completion(&prepared, &fire, None).await;

    mock.assert_async().await;
    let result = log.result.as_ref().expect("a result");
    assert!(result.succeeded, "{log:?}");
    let text = |value: &str| FieldValue::Text(value.to_owned());
    assert_eq!(result.fields["Echo"], text("[REDACTED]"));
    assert_eq!(result.fields["Basic"], text("[REDACTED]"));
    assert_eq!(result.fields["List"], FieldValue::List(vec!["[REDACTED]".to_owned(), "plain".to_owned()]));
    assert_eq!(result.fields["Id"], text("T-1"), "values without a secret are copied as they are");
    let serialized = serde_json::to_string(&log).expect("JSON");
    assert_hidden(&serialized, &[KEY, &upper, &replaced, &joined, &basic, PASSWORD], "the log");
    let request = log.attempts().next().and_then(|attempt| attempt.request.as_ref()).expect("the request");
    assert_hidden(&request.curl, &[KEY, &upper, &replaced, &joined], "the curl line");
    for field in ["Echo", "Basic", "List"] {
        assert!(
            serialized.contains(&format!("Mapping `{field}`: the value holds a secret of this fire")),
            "{serialized}"
        );
    }
}
