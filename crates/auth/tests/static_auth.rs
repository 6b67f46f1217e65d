//! Resolving auth settings and applying the static providers (`none`, `token`, `basic`, `api_key`), table-driven.

use cutover_integrations_auth::{
    ApiKeyAuth, AuthConfig, AuthError, AuthProvider, Authenticator, AuthenticatorSettings, Cipher, FireSubject,
    InMemoryCredentialStore, Key, KeyId, KeyRing, OutgoingRequest, SystemClock, TokenAuth,
};
use cutover_integrations_model::{
    ApiKeyLocation, AuthSettings, AuthenticateAs, OAuth2Grant, OAuth2Settings, SecretValue,
};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use url::Url;

fn authenticator() -> Authenticator {
    let store = Arc::new(InMemoryCredentialStore::new(Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::generate())))));
    let settings =
        AuthenticatorSettings::new(Url::parse("https://cutover.example/api/v1/oauth/callback").expect("url"));
    Authenticator::new(store, reqwest::Client::new(), Arc::new(SystemClock), settings)
}

fn literal(value: &SecretValue) -> Result<SecretString, String> {
    if value.is_template() {
        Err("no system parameters here".to_owned())
    } else {
        Ok(SecretString::from(value.expose()))
    }
}

struct ApplyCase {
    settings: AuthSettings,
    /// Expected headers after apply, as `name: value`.
    headers: &'static [&'static str],
    /// Expected URL after apply.
    url: &'static str,
    /// Expected names reported as applied (headers, then query parameters).
    applied: &'static [&'static str],
    /// A text holding the secrets, and what redaction makes of it.
    redact: (&'static str, &'static str),
}

async fn check_apply(case: &ApplyCase) {
    let config = AuthConfig::resolve(&case.settings, literal).expect("valid settings");
    let provider = authenticator().provider(config);
    let mut request =
        OutgoingRequest::new(http::Method::GET, Url::parse("https://api.example/v1/items?page=2").expect("url"));
    let subject = FireSubject { action: "a".into(), runbook: "r".into(), task: "t".into(), user: None };
    let applied = provider.apply(&subject, &mut request).await.expect("apply");
    let headers: Vec<String> =
        request.headers.iter().map(|(name, value)| format!("{name}: {}", value.to_str().expect("ascii"))).collect();
    assert_eq!(headers, case.headers, "{:?}", case.settings);
    assert!(request.headers.values().all(http::HeaderValue::is_sensitive), "{:?}", case.settings);
    assert_eq!(request.url.as_str(), case.url, "{:?}", case.settings);
    let names: Vec<String> =
        applied.headers().iter().map(|name| name.to_string()).chain(applied.query_params().iter().cloned()).collect();
    assert_eq!(names, case.applied, "{:?}", case.settings);
    assert_eq!(applied.redact(case.redact.0), case.redact.1, "{:?}", case.settings);
    for secret in applied.secrets() {
        let secret = secret.expose_secret();
        assert!(!format!("{request:?} {applied:?} {provider:?}").contains(secret), "`{secret}` is formatted");
    }
}

#[tokio::test]
async fn static_providers_apply_their_credentials() {
    let cases = [
        ApplyCase {
            settings: AuthSettings::None,
            headers: &[],
            url: "https://api.example/v1/items?page=2",
            applied: &[],
            redact: ("nothing secret", "nothing secret"),
        },
        ApplyCase {
            settings: AuthSettings::Token { token_type: "Bearer".into(), token: "tok-123".into() },
            headers: &["authorization: Bearer tok-123"],
            url: "https://api.example/v1/items?page=2",
            applied: &["authorization"],
            redact: ("Authorization: Bearer tok-123", "Authorization: [REDACTED]"),
        },
        ApplyCase {
            settings: AuthSettings::Token { token_type: "token".into(), token: "ghp_abc".into() },
            headers: &["authorization: token ghp_abc"],
            url: "https://api.example/v1/items?page=2",
            applied: &["authorization"],
            redact: ("echo ghp_abc", "echo [REDACTED]"),
        },
        ApplyCase {
            settings: AuthSettings::Basic { username: "svc".into(), password: "p@ss word".into() },
            headers: &["authorization: Basic c3ZjOnBAc3Mgd29yZA=="],
            url: "https://api.example/v1/items?page=2",
            applied: &["authorization"],
            redact: ("-u svc:p@ss word / Basic c3ZjOnBAc3Mgd29yZA==", "-u svc:[REDACTED] / [REDACTED]"),
        },
        ApplyCase {
            settings: AuthSettings::ApiKey {
                location: ApiKeyLocation::Header,
                name: "X-Api-Key".into(),
                value: "k-999".into(),
            },
            headers: &["x-api-key: k-999"],
            url: "https://api.example/v1/items?page=2",
            applied: &["x-api-key"],
            redact: ("X-Api-Key: k-999", "X-Api-Key: [REDACTED]"),
        },
        ApplyCase {
            settings: AuthSettings::ApiKey {
                location: ApiKeyLocation::Query,
                name: "api_key".into(),
                value: "a b/c+d".into(),
            },
            headers: &[],
            url: "https://api.example/v1/items?page=2&api_key=a+b%2Fc%2Bd",
            applied: &["api_key"],
            redact: (
                "curl 'https://api.example/v1/items?page=2&api_key=a+b%2Fc%2Bd'",
                "curl 'https://api.example/v1/items?page=2&api_key=[REDACTED]'",
            ),
        },
    ];
    for case in &cases {
        check_apply(case).await;
    }
}

#[test]
fn query_values_are_redacted_in_debug() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let settings =
        AuthSettings::ApiKey { location: ApiKeyLocation::Query, name: "key".into(), value: "qk-secret-1".into() };
    let provider = authenticator().provider(AuthConfig::resolve(&settings, literal).expect("valid"));
    let mut request = OutgoingRequest::new(http::Method::GET, Url::parse("https://api.example/x?a=1").expect("url"));
    let subject = FireSubject { action: "a".into(), runbook: "r".into(), task: "t".into(), user: None };
    runtime.block_on(provider.apply(&subject, &mut request)).expect("apply");
    let debug = format!("{request:?}");
    assert!(debug.contains("https://api.example/x?a=%5BREDACTED%5D&key=%5BREDACTED%5D"), "{debug}");
    assert!(!debug.contains("qk-secret-1"), "{debug}");
    assert!(request.url.as_str().ends_with("key=qk-secret-1"), "the wire form keeps the key");
}

fn oauth(grant: OAuth2Grant, host: &str, authorization: Option<&str>, token: &str) -> AuthSettings {
    AuthSettings::Oauth2(OAuth2Settings {
        grant,
        client_id: "cid".into(),
        client_secret: "{{SystemParameter['secret']}}".into(),
        provider_host: host.into(),
        authorization_endpoint: authorization.map(str::to_owned),
        token_endpoint: token.into(),
        scopes: vec![],
        authenticate_as: AuthenticateAs::FunctionalUser,
    })
}

#[test]
fn oauth_endpoints_resolve_against_the_provider_host() {
    let cases = [
        (
            "https://slack.com",
            "/oauth/authorize",
            "/api/oauth.access",
            "https://slack.com/oauth/authorize",
            "https://slack.com/api/oauth.access",
        ),
        (
            "https://idp.example/tenant/",
            "authorize",
            "/token",
            "https://idp.example/tenant/authorize",
            "https://idp.example/tenant/token",
        ),
        (
            "https://idp.example",
            "https://login.example/auth",
            "https://login.example/token",
            "https://login.example/auth",
            "https://login.example/token",
        ),
    ];
    let resolve = |value: &SecretValue| -> Result<SecretString, String> {
        assert_eq!(value.expose(), "{{SystemParameter['secret']}}");
        Ok(SecretString::from("resolved"))
    };
    for (host, authorization, token, expected_authorization, expected_token) in cases {
        let settings = oauth(OAuth2Grant::AuthorizationCode, host, Some(authorization), token);
        match AuthConfig::resolve(&settings, resolve).expect("valid") {
            AuthConfig::OAuth2(config) => {
                assert_eq!(config.authorization_url.as_ref().map(Url::as_str), Some(expected_authorization), "{host}");
                assert_eq!(config.token_url.as_str(), expected_token, "{host}");
                assert_eq!(config.client_secret.expose_secret(), "resolved");
                assert!(!format!("{config:?}").contains("resolved"));
            }
            other => panic!("expected oauth2, got {other:?}"),
        }
    }
}

#[test]
fn unusable_settings_are_rejected_naming_the_field() {
    let cases: Vec<(AuthSettings, &str, &str)> = vec![
        (AuthSettings::Token { token_type: "Bea rer".into(), token: "t".into() }, "token_type", "scheme name"),
        (
            AuthSettings::Token { token_type: "Bearer".into(), token: "{{SystemParameter['x']}}".into() },
            "token",
            "no system parameters",
        ),
        (AuthSettings::Basic { username: "a:b".into(), password: "p".into() }, "username", "cannot contain `:`"),
        (
            AuthSettings::ApiKey { location: ApiKeyLocation::Header, name: "Bad Header".into(), value: "v".into() },
            "name",
            "not a valid header name",
        ),
        (
            AuthSettings::ApiKey { location: ApiKeyLocation::Query, name: String::new(), value: "v".into() },
            "name",
            "empty",
        ),
        (
            oauth(OAuth2Grant::AuthorizationCode, "https://idp.example", None, "/token"),
            "authorization_endpoint",
            "needs an authorization endpoint",
        ),
        (oauth(OAuth2Grant::ClientCredentials, "idp.example", None, "/token"), "provider_host", "not an absolute URL"),
        (
            oauth(OAuth2Grant::ClientCredentials, "https://idp.example", None, "ftp://idp.example/token"),
            "token_endpoint",
            "not an http(s) URL",
        ),
    ];
    let resolve = |value: &SecretValue| -> Result<SecretString, String> {
        match value.expose() {
            "{{SystemParameter['secret']}}" => Ok(SecretString::from("resolved")),
            _ => literal(value),
        }
    };
    for (settings, field, message) in cases {
        match AuthConfig::resolve(&settings, resolve) {
            Err(error @ (AuthError::InvalidConfig { .. } | AuthError::SecretResolution { .. })) => {
                let text = error.to_string();
                assert!(text.contains(&format!("`{field}`")) && text.contains(message), "{settings:?}: {text}");
            }
            other => panic!("{settings:?}: expected an error on `{field}`, got {other:?}"),
        }
    }
}

#[test]
fn header_values_with_control_characters_are_refused() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let subject = FireSubject { action: "a".into(), runbook: "r".into(), task: "t".into(), user: None };
    let cases: [(AuthSettings, Arc<dyn AuthProvider>); 2] = [
        (
            AuthSettings::Token { token_type: "Bearer".into(), token: "tok\r\nX-Injected: 1".into() },
            Arc::new(TokenAuth::new("Bearer", SecretString::from("tok\r\nX-Injected: 1"))),
        ),
        (
            AuthSettings::ApiKey { location: ApiKeyLocation::Header, name: "X-Key".into(), value: "k\n1".into() },
            Arc::new(ApiKeyAuth::new(ApiKeyLocation::Header, "X-Key", SecretString::from("k\n1"))),
        ),
    ];
    for (settings, provider) in cases {
        let at_resolve = AuthConfig::resolve(&settings, literal).map(|_| ()).expect_err("refused when resolved");
        let mut request = OutgoingRequest::new(http::Method::GET, Url::parse("https://api.example/").expect("url"));
        let at_apply = runtime.block_on(provider.apply(&subject, &mut request)).map(|_| ()).expect_err("refused");
        assert!(request.headers.is_empty(), "nothing was added");
        for error in [at_resolve, at_apply] {
            assert!(matches!(error, AuthError::InvalidCredentialValue { .. }), "{error:?}");
            assert!(!error.to_string().contains("Injected") && !error.to_string().contains("k\n1"));
        }
    }
}
