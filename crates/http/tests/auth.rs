//! Credentials from the auth crate's providers: an OAuth 2 token refreshed after a 401 and the request sent again,
//! and a provider failure recorded with kind `auth`.

mod common;

use common::*;
use cutover_integrations_auth::{
    AuthConfig, Authenticator, AuthenticatorSettings, Cipher, FireSubject, InMemoryCredentialStore, Key, KeyId,
    KeyRing, OAuth2Config, SystemClock,
};
use cutover_integrations_http::{ErrorKind, PreparedAction};
use cutover_integrations_model::{AuthenticateAs, OAuth2Grant};
use mockito::Matcher;
use secrecy::SecretString;
use serde_json::json;
use std::sync::Arc;

fn authenticator() -> Authenticator {
    let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::generate())));
    Authenticator::new(
        Arc::new(InMemoryCredentialStore::new(cipher)),
        reqwest::Client::new(),
        Arc::new(SystemClock),
        AuthenticatorSettings::new("https://cutover.example/api/v1/oauth/callback".parse().unwrap()),
    )
}

fn client_credentials(server: &mockito::Server) -> AuthConfig {
    AuthConfig::OAuth2(Box::new(OAuth2Config {
        grant: OAuth2Grant::ClientCredentials,
        client_id: "client-1".into(),
        client_secret: SecretString::from("client-secret-xyz"),
        authorization_url: None,
        token_url: format!("{}/oauth/token", server.url()).parse().unwrap(),
        scopes: Vec::new(),
        authenticate_as: AuthenticateAs::FunctionalUser,
    }))
}

fn subject() -> FireSubject {
    FireSubject { action: "action-1".into(), runbook: "rb-1".into(), task: "task-1".into(), user: None }
}

fn prepared() -> PreparedAction {
    let definition =
        action(json!({"request": {"method": "POST", "url": "{{SystemParameter.base}}/api", "payload": "{}"}}));
    PreparedAction::compile(&definition).unwrap()
}

fn fire_at(server: &mockito::Server) -> cutover_integrations_http::FireContext {
    cutover_integrations_http::FireContext::new(
        "fire-1",
        "rb-1",
        "task-1",
        json!({"SystemParameter": {"base": server.url()}}),
    )
}

#[tokio::test]
async fn a_401_refreshes_the_oauth_token_and_sends_again() {
    let mut server = mockito::Server::new_async().await;
    let first_token = server
        .mock("POST", "/oauth/token")
        .with_body(r#"{"access_token": "old-token-111", "token_type": "bearer", "expires_in": 3600}"#)
        .expect(1)
        .create_async()
        .await;
    let second_token = server
        .mock("POST", "/oauth/token")
        .with_body(r#"{"access_token": "new-token-222", "token_type": "bearer", "expires_in": 3600}"#)
        .expect(1)
        .create_async()
        .await;
    let rejected = server
        .mock("POST", "/api")
        .match_header("authorization", "Bearer old-token-111")
        .with_status(401)
        .expect(1)
        .create_async()
        .await;
    let accepted = server
        .mock("POST", "/api")
        .match_header("authorization", "Bearer new-token-222")
        .with_status(200)
        .expect(1)
        .create_async()
        .await;
    let provider = authenticator().provider(client_credentials(&server));
    let fire = fire_at(&server).with_auth(provider, subject());

    let log = executor().0.run_to_completion(&prepared(), &fire, None).await;

    first_token.assert_async().await;
    second_token.assert_async().await;
    rejected.assert_async().await;
    accepted.assert_async().await;
    assert!(log.result.as_ref().unwrap().succeeded, "{log:?}");
    let statuses: Vec<_> = attempts(&log).iter().map(|attempt| attempt.response.as_ref().unwrap().status).collect();
    assert_eq!(statuses, vec![401, 200], "both sends are in the log");
    let shown = serde_json::to_string(&log).unwrap();
    assert!(!shown.contains("old-token-111") && !shown.contains("new-token-222"), "{shown}");
}

#[tokio::test]
async fn a_token_endpoint_that_refuses_fails_the_fire_with_kind_auth() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("POST", "/oauth/token")
        .with_status(400)
        .with_body(r#"{"error": "invalid_client"}"#)
        .create_async()
        .await;
    let never = server.mock("POST", "/api").expect(0).create_async().await;
    let provider = authenticator().provider(client_credentials(&server));
    let fire = fire_at(&server).with_auth(provider, subject());

    let log = executor().0.run_to_completion(&prepared(), &fire, None).await;

    never.assert_async().await;
    let failure = log.result.unwrap().failure.unwrap();
    assert_eq!(failure.kind, ErrorKind::Auth);
    assert!(failure.reason.starts_with("Credentials unavailable: "), "{}", failure.reason);
    assert!(!failure.reason.contains("client-secret-xyz"));
}

#[tokio::test]
async fn an_unavailable_token_endpoint_is_retried() {
    let mut server = mockito::Server::new_async().await;
    let down = server.mock("POST", "/oauth/token").with_status(503).expect(1).create_async().await;
    let up = server
        .mock("POST", "/oauth/token")
        .with_body(r#"{"access_token": "tok-333", "token_type": "bearer"}"#)
        .expect(1)
        .create_async()
        .await;
    let api = server
        .mock("POST", "/api")
        .match_header("authorization", "Bearer tok-333")
        .match_body(Matcher::Exact("{}".into()))
        .create_async()
        .await;
    let provider = authenticator().provider(client_credentials(&server));
    let fire = fire_at(&server).with_auth(provider, subject());

    let log = executor().0.run_to_completion(&prepared(), &fire, None).await;

    down.assert_async().await;
    up.assert_async().await;
    api.assert_async().await;
    assert!(log.result.unwrap().succeeded);
    let kinds: Vec<_> = log
        .entries
        .iter()
        .filter_map(|entry| match entry {
            cutover_integrations_http::LogEntry::Attempt(attempt) => {
                Some(attempt.error.as_ref().map(|error| error.kind))
            }
            _ => None,
        })
        .collect();
    assert_eq!(kinds, vec![Some(ErrorKind::Auth), None]);
}
