//! The auth flows the tests run against mockito providers, shared by the flow tests and the secrets scan.
//!
//! Each flow is a function that asserts its behaviour and records everything it formats (`Debug` of every value,
//! `Display` of every error) in a [`Transcript`], with the secrets it used.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cutover_integrations_auth::{
    AppliedCredentials, AuthConfig, AuthError, AuthProvider, Authenticator, AuthenticatorSettings,
    AuthorizationCallback, Cipher, Clock, CredentialKey, CredentialStore, FireSubject, InMemoryCredentialStore, Key,
    KeyId, KeyRing, ManualClock, OAuth2Config, OAuthToken, OutgoingRequest, StoredCredential, UnauthorizedOutcome,
};
use cutover_integrations_model::{
    ApiKeyLocation, AuthSettings, AuthenticateAs, OAuth2Grant, OAuth2Settings, SecretValue,
};
use jiff::{SignedDuration, Timestamp};
use mockito::{Matcher, Mock, ServerGuard};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use url::Url;

pub(crate) const CLIENT_ID: &str = "client-4711";
pub(crate) const CLIENT_SECRET: &str = "cs-Zq8vN3kP0wLx";
pub(crate) const REDIRECT: &str = "https://cutover.example/api/v1/oauth/callback";
pub(crate) const TOKEN_PATH: &str = "/api/oauth.access";
pub(crate) const AUTHORIZE_PATH: &str = "/oauth/authorize";
pub(crate) const SCOPES: [&str; 2] = ["channels:read", "chat:write"];

/// Everything a flow formatted, and the secrets it used (some only known once the mock saw them).
#[derive(Default)]
pub(crate) struct Transcript {
    pub(crate) formatted: Vec<String>,
    pub(crate) secrets: Vec<String>,
}

impl Transcript {
    pub(crate) fn debug(&mut self, value: &impl Debug) {
        self.formatted.push(format!("{value:?}"));
        self.formatted.push(format!("{value:#?}"));
    }

    pub(crate) fn error(&mut self, error: &AuthError) {
        self.debug(error);
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        self.formatted.push(text);
    }

    pub(crate) fn secret(&mut self, secret: impl Into<String>) {
        self.secrets.push(secret.into());
    }

    /// Records and returns the error of a result that must fail.
    pub(crate) fn expect_error<T: Debug>(&mut self, result: Result<T, AuthError>) -> AuthError {
        match result {
            Ok(value) => panic!("expected an error, got {value:?}"),
            Err(error) => {
                self.error(&error);
                error
            }
        }
    }
}

pub(crate) struct Fixture {
    server: ServerGuard,
    clock: Arc<ManualClock>,
    store: Arc<InMemoryCredentialStore>,
    authenticator: Authenticator,
}

pub(crate) fn start() -> Timestamp {
    "2025-03-01T09:00:00Z".parse().expect("timestamp")
}

impl Fixture {
    async fn new(t: &mut Transcript) -> Self {
        t.secret(CLIENT_SECRET);
        let server = mockito::Server::new_async().await;
        let clock = Arc::new(ManualClock::new(start()));
        let cipher = Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::generate())));
        let store = Arc::new(InMemoryCredentialStore::new(cipher));
        let mut settings = AuthenticatorSettings::new(Url::parse(REDIRECT).expect("url"));
        settings.refresh_margin = SignedDuration::from_secs(60);
        let authenticator = Authenticator::new(store.clone(), reqwest::Client::new(), clock.clone(), settings);
        t.debug(&authenticator);
        t.debug(&store);
        Self { server, clock, store, authenticator }
    }

    /// OAuth settings as a definition would hold them, resolved with a system parameter resolver.
    fn oauth(&self, t: &mut Transcript, grant: OAuth2Grant, authenticate_as: AuthenticateAs) -> OAuth2Config {
        let settings = AuthSettings::Oauth2(OAuth2Settings {
            grant,
            client_id: CLIENT_ID.to_owned(),
            client_secret: SecretValue::new("{{SystemParameter['slack_client_secret']}}"),
            provider_host: self.server.url(),
            authorization_endpoint: Some(AUTHORIZE_PATH.to_owned()),
            token_endpoint: TOKEN_PATH.to_owned(),
            scopes: SCOPES.map(str::to_owned).to_vec(),
            authenticate_as,
        });
        t.debug(&settings);
        let config = AuthConfig::resolve(&settings, resolve_parameter).expect("valid settings");
        t.debug(&config);
        match config {
            AuthConfig::OAuth2(config) => *config,
            other => panic!("expected oauth2, got {other:?}"),
        }
    }

    fn provider(&self, t: &mut Transcript, config: &OAuth2Config) -> Arc<dyn AuthProvider> {
        let provider = self.authenticator.provider(AuthConfig::OAuth2(Box::new(config.clone())));
        t.debug(&provider);
        provider
    }

    async fn seed(&self, t: &mut Transcript, key: &CredentialKey, access: &str, refresh: Option<&str>, lifetime: i64) {
        t.secret(access);
        if let Some(refresh) = refresh {
            t.secret(refresh);
        }
        let now = self.clock.now();
        let token = OAuthToken {
            access_token: SecretString::from(access),
            token_type: "bearer".to_owned(),
            refresh_token: refresh.map(SecretString::from),
            expires_at: Some(now.checked_add(SignedDuration::from_secs(lifetime)).expect("time")),
            scopes: SCOPES.map(str::to_owned).to_vec(),
            obtained_at: now,
            authorized: None,
        };
        t.debug(&token);
        self.store.save_credential(key, &StoredCredential::Active(token)).await.expect("save");
    }

    async fn stored(&self, t: &mut Transcript, key: &CredentialKey) -> Option<StoredCredential> {
        let stored = self.store.load_credential(key).await.expect("load");
        t.debug(&stored);
        stored
    }

    fn basic_auth(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}")))
    }

    /// A token endpoint answering `grant_type=refresh_token` for `refresh` with `body`.
    async fn refresh_mock(&mut self, refresh: &str, status: usize, body: &str, hits: usize) -> Mock {
        let basic = self.basic_auth();
        self.server
            .mock("POST", TOKEN_PATH)
            .match_header("authorization", basic.as_str())
            .match_body(Matcher::AllOf(vec![
                Matcher::UrlEncoded("grant_type".into(), "refresh_token".into()),
                Matcher::UrlEncoded("refresh_token".into(), refresh.into()),
            ]))
            .with_status(status)
            .with_header("content-type", "application/json")
            .with_body(body)
            .expect(hits)
            .create_async()
            .await
    }
}

pub(crate) fn resolve_parameter(value: &SecretValue) -> Result<SecretString, String> {
    match value.expose() {
        "{{SystemParameter['slack_client_secret']}}" => Ok(SecretString::from(CLIENT_SECRET)),
        literal if !value.is_template() => Ok(SecretString::from(literal)),
        _ => Err("unknown system parameter".to_owned()),
    }
}

pub(crate) fn functional(action: &str) -> CredentialKey {
    CredentialKey::FunctionalUser { action: action.to_owned() }
}

pub(crate) fn subject(action: &str, task: &str, user: Option<&str>) -> FireSubject {
    FireSubject {
        action: action.to_owned(),
        runbook: "rb-42".to_owned(),
        task: task.to_owned(),
        user: user.map(str::to_owned),
    }
}

pub(crate) fn request() -> OutgoingRequest {
    OutgoingRequest::new(http::Method::POST, Url::parse("https://slack.example/api/chat.postMessage").expect("url"))
}

/// Applies auth to a fresh request and returns the `Authorization` header and what was applied.
pub(crate) async fn authorize_request(
    t: &mut Transcript,
    provider: &Arc<dyn AuthProvider>,
    subject: &FireSubject,
) -> Result<(String, AppliedCredentials), AuthError> {
    let mut request = request();
    let applied = provider.apply(subject, &mut request).await;
    t.debug(&request);
    t.debug(&applied);
    let applied = applied?;
    let header = request.headers.get(http::header::AUTHORIZATION).expect("authorization header");
    assert!(header.is_sensitive(), "the authorization header is marked sensitive");
    Ok((header.to_str().expect("ascii").to_owned(), applied))
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// What the mock provider remembers between the authorize redirect and the token request.
#[derive(Default)]
pub(crate) struct ProviderMemory {
    challenges: HashMap<String, String>,
    verifiers: Vec<String>,
}

/// A provider's authorization endpoint: checks the query and redirects to the callback with `code` and the state.
pub(crate) async fn authorize_endpoint(fx: &mut Fixture, code: &str, memory: Arc<Mutex<ProviderMemory>>) -> Mock {
    let code = code.to_owned();
    fx.server
        .mock("GET", AUTHORIZE_PATH)
        .match_query(Matcher::AllOf(vec![
            Matcher::UrlEncoded("response_type".into(), "code".into()),
            Matcher::UrlEncoded("client_id".into(), CLIENT_ID.into()),
            Matcher::UrlEncoded("redirect_uri".into(), REDIRECT.into()),
            Matcher::UrlEncoded("scope".into(), SCOPES.join(" ")),
            Matcher::UrlEncoded("code_challenge_method".into(), "S256".into()),
            Matcher::Regex("code_challenge=[A-Za-z0-9_-]{43}(&|$)".into()),
            Matcher::Regex("state=[A-Za-z0-9_-]{43}(&|$)".into()),
        ]))
        .with_status(302)
        .with_header_from_request("location", move |request| {
            let query: HashMap<String, String> =
                url::form_urlencoded::parse(request.path_and_query().split_once('?').map_or("", |(_, q)| q).as_bytes())
                    .into_owned()
                    .collect();
            memory.lock().expect("memory").challenges.insert(code.clone(), query["code_challenge"].clone());
            let mut location = Url::parse(REDIRECT).expect("url");
            location.query_pairs_mut().append_pair("code", &code).append_pair("state", &query["state"]);
            location.to_string()
        })
        .create_async()
        .await
}

/// A provider's token endpoint for the authorization code grant: it verifies the client, the exact redirect URI, the
/// code and the PKCE verifier against the challenge the authorize endpoint saw, then answers `body`.
pub(crate) async fn code_exchange_endpoint(
    fx: &mut Fixture,
    code: &str,
    body: &str,
    memory: Arc<Mutex<ProviderMemory>>,
) -> Mock {
    let basic = fx.basic_auth();
    let expected_code = code.to_owned();
    fx.server
        .mock("POST", TOKEN_PATH)
        .match_header("authorization", basic.as_str())
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "authorization_code".into()),
            Matcher::UrlEncoded("code".into(), code.into()),
            Matcher::UrlEncoded("redirect_uri".into(), REDIRECT.into()),
        ]))
        .match_request(move |request| {
            let body = request.body().expect("body");
            let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
            let Some(verifier) = form.get("code_verifier") else { return false };
            let mut memory = memory.lock().expect("memory");
            memory.verifiers.push(verifier.clone());
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            memory.challenges.get(&expected_code) == Some(&computed)
        })
        .with_header("content-type", "application/json")
        .with_body(body)
        .expect(1)
        .create_async()
        .await
}

/// Follows the authorization URL like a browser and returns the callback query the provider redirected to.
pub(crate) async fn browse(t: &mut Transcript, url: &Url) -> AuthorizationCallback {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = browser.get(url.as_str()).send().await.expect("authorize request");
    assert_eq!(response.status(), 302, "the mock provider accepted the authorization URL");
    let location = Url::parse(response.headers()["location"].to_str().expect("ascii")).expect("location");
    assert_eq!(&location[..url::Position::AfterPath], REDIRECT, "the provider redirects to the exact redirect URI");
    let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
    let json = serde_json::to_value(&query).expect("query");
    let callback: AuthorizationCallback = serde_json::from_value(json).expect("callback query");
    t.debug(&callback);
    callback
}

/// Runs the browser part of an authorization and completes it.
pub(crate) async fn authorize(
    t: &mut Transcript,
    fx: &Fixture,
    config: &OAuth2Config,
    key: CredentialKey,
) -> Result<CredentialKey, AuthError> {
    let redirect = fx.authenticator.begin_authorization(config, key).await.expect("begin");
    t.debug(&redirect);
    let callback = browse(t, &redirect.url).await;
    let pending = fx.authenticator.redeem_state(&callback.state).await.expect("redeem");
    t.debug(&pending);
    fx.authenticator.complete_authorization(pending, config, &callback).await
}

pub(crate) async fn flow_authorization_code_round_trip(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::AuthorizationCode, AuthenticateAs::FunctionalUser);
    let memory = Arc::new(Mutex::new(ProviderMemory::default()));
    t.secret("code-Hq72Lm");
    t.secret("at-round-trip-9Xk2");
    t.secret("rt-round-trip-4Jw8");
    let authorize_mock = authorize_endpoint(&mut fx, "code-Hq72Lm", memory.clone()).await;
    let token_mock = code_exchange_endpoint(
        &mut fx,
        "code-Hq72Lm",
        r#"{"access_token":"at-round-trip-9Xk2","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-round-trip-4Jw8"}"#,
        memory.clone(),
    )
    .await;

    let redirect = fx.authenticator.begin_authorization(&config, functional("a1")).await.expect("begin");
    t.debug(&redirect);
    assert_eq!(redirect.credential, functional("a1"));
    assert_eq!(redirect.expires_at, start().checked_add(SignedDuration::from_mins(10)).expect("time"));
    assert_eq!(&redirect.url[..url::Position::AfterPath], format!("{}{AUTHORIZE_PATH}", fx.server.url()));
    let callback = browse(t, &redirect.url).await;
    let pending = fx.authenticator.redeem_state(&callback.state).await.expect("redeem");
    t.debug(&pending);
    assert_eq!(pending.credential(), &functional("a1"));
    let stored_as = fx.authenticator.complete_authorization(pending, &config, &callback).await.expect("exchange");
    assert_eq!(stored_as, functional("a1"));
    authorize_mock.assert_async().await;
    token_mock.assert_async().await;
    let verifiers = memory.lock().expect("memory").verifiers.clone();
    assert_eq!(verifiers.len(), 1, "one exchange carried a PKCE verifier");
    t.secrets.extend(verifiers);

    let provider = fx.provider(t, &config);
    let (header, applied) = authorize_request(t, &provider, &subject("a1", "t1", None)).await.expect("apply");
    assert_eq!(header, "Bearer at-round-trip-9Xk2");
    assert_eq!(applied.headers(), [http::header::AUTHORIZATION]);
    assert_eq!(applied.redact(&format!("curl -H 'Authorization: {header}'")), "curl -H 'Authorization: [REDACTED]'");

    let sealed = fx.store.sealed_credential(&functional("a1")).expect("stored");
    assert!(!contains(&sealed, b"at-round-trip-9Xk2") && !contains(&sealed, b"rt-round-trip-4Jw8"), "sealed at rest");
    match fx.stored(t, &functional("a1")).await {
        Some(StoredCredential::Active(token)) => {
            assert_eq!(
                token.refresh_token.as_ref().map(|s| s.expose_secret().to_owned()).as_deref(),
                Some("rt-round-trip-4Jw8")
            );
            assert_eq!(token.expires_at, start().checked_add(SignedDuration::from_secs(3600)).ok());
        }
        other => panic!("expected an active token, got {other:?}"),
    }
}

pub(crate) async fn flow_state_replay_and_mismatch(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::AuthorizationCode, AuthenticateAs::FunctionalUser);
    let no_exchange = fx.server.mock("POST", TOKEN_PATH).expect(0).create_async().await;

    // A redeemed state cannot be redeemed again; a state never issued is unknown.
    let redirect = fx.authenticator.begin_authorization(&config, functional("a1")).await.expect("begin");
    let state: String = redirect.url.query_pairs().find(|(name, _)| name == "state").expect("state").1.into_owned();
    fx.authenticator.redeem_state(&state).await.expect("first redemption");
    let replay = t.expect_error(fx.authenticator.redeem_state(&state).await);
    assert!(matches!(replay, AuthError::StateAlreadyUsed), "{replay:?}");
    let forged = t.expect_error(fx.authenticator.redeem_state("forged-state-value").await);
    assert!(matches!(forged, AuthError::UnknownState), "{forged:?}");

    // A state is bound to the settings it was issued under.
    let redirect = fx.authenticator.begin_authorization(&config, functional("a1")).await.expect("begin");
    let state: String = redirect.url.query_pairs().find(|(name, _)| name == "state").expect("state").1.into_owned();
    let pending = fx.authenticator.redeem_state(&state).await.expect("redeem");
    let mut other_client = config.clone();
    other_client.client_id = "another-client".to_owned();
    t.secret("code-mismatch-77");
    let callback = AuthorizationCallback {
        state: state.clone(),
        code: Some(SecretString::from("code-mismatch-77")),
        error: None,
        error_description: None,
    };
    let mismatch = t.expect_error(fx.authenticator.complete_authorization(pending, &other_client, &callback).await);
    assert!(
        matches!(&mismatch, AuthError::StateMismatch { credential, .. } if *credential == functional("a1")),
        "{mismatch:?}"
    );

    // An expired state is refused, even on its first use.
    let redirect = fx.authenticator.begin_authorization(&config, functional("a1")).await.expect("begin");
    let state: String = redirect.url.query_pairs().find(|(name, _)| name == "state").expect("state").1.into_owned();
    fx.clock.advance(SignedDuration::from_secs(601));
    let expired = t.expect_error(fx.authenticator.redeem_state(&state).await);
    assert!(
        matches!(expired, AuthError::StateExpired { expired_at } if expired_at == redirect.expires_at),
        "{expired:?}"
    );

    // The provider's error comes back as a denial; a functional-user action refuses a task-user credential.
    let redirect = fx.authenticator.begin_authorization(&config, functional("a1")).await.expect("begin");
    let state: String = redirect.url.query_pairs().find(|(name, _)| name == "state").expect("state").1.into_owned();
    let pending = fx.authenticator.redeem_state(&state).await.expect("redeem");
    let denied = AuthorizationCallback {
        state,
        code: None,
        error: Some("access_denied".to_owned()),
        error_description: Some("The user said no".to_owned()),
    };
    let denial = t.expect_error(fx.authenticator.complete_authorization(pending, &config, &denied).await);
    assert!(matches!(&denial, AuthError::AuthorizationDenied { error, .. } if error == "access_denied"), "{denial:?}");
    let task_key =
        CredentialKey::TaskUser { action: "a1".into(), runbook: "rb-42".into(), task: "t1".into(), user: "u1".into() };
    let wrong_kind = t.expect_error(fx.authenticator.begin_authorization(&config, task_key).await);
    assert!(matches!(wrong_kind, AuthError::WrongCredentialKind { .. }), "{wrong_kind:?}");
    no_exchange.assert_async().await;
}

pub(crate) async fn flow_task_user_binding(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::AuthorizationCode, AuthenticateAs::TaskUser);
    let memory = Arc::new(Mutex::new(ProviderMemory::default()));
    t.secret("code-task-user-5");
    t.secret("at-task-user-Pp1");
    authorize_endpoint(&mut fx, "code-task-user-5", memory.clone()).await;
    code_exchange_endpoint(
        &mut fx,
        "code-task-user-5",
        r#"{"access_token":"at-task-user-Pp1","token_type":"bearer","expires_in":3600}"#,
        memory.clone(),
    )
    .await;
    let key =
        CredentialKey::TaskUser { action: "a1".into(), runbook: "rb-42".into(), task: "t1".into(), user: "u1".into() };
    assert_eq!(authorize(t, &fx, &config, key.clone()).await.expect("authorized"), key);
    t.secrets.extend(memory.lock().expect("memory").verifiers.clone());

    let provider = fx.provider(t, &config);
    let (header, _) = authorize_request(t, &provider, &subject("a1", "t1", Some("u1"))).await.expect("own task");
    assert_eq!(header, "Bearer at-task-user-Pp1");
    let result = authorize_request(t, &provider, &subject("a1", "t2", Some("u1"))).await;
    let other_task = t.expect_error(result);
    assert!(
        matches!(&other_task, AuthError::NeedsAuthorization { credential: CredentialKey::TaskUser { task, .. } } if task == "t2"),
        "{other_task:?}"
    );
    let result = authorize_request(t, &provider, &subject("a1", "t1", Some("u2"))).await;
    let other_user = t.expect_error(result);
    assert!(other_user.needs_user_authorization(), "{other_user:?}");
    let result = authorize_request(t, &provider, &subject("a1", "t1", None)).await;
    let no_user = t.expect_error(result);
    assert!(matches!(no_user, AuthError::MissingTaskUser { .. }), "{no_user:?}");
}

pub(crate) async fn flow_client_credentials(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::ClientCredentials, AuthenticateAs::FunctionalUser);
    t.secret("at-cc-first-Ry6");
    t.secret("at-cc-second-Tm3");
    let first = client_credentials_endpoint(
        &mut fx,
        r#"{"access_token":"at-cc-first-Ry6","token_type":"Bearer","expires_in":3600}"#,
    )
    .await;
    let provider = fx.provider(t, &config);
    for task in ["t1", "t2", "t3"] {
        let (header, _) = authorize_request(t, &provider, &subject("a7", task, None)).await.expect("apply");
        assert_eq!(header, "Bearer at-cc-first-Ry6", "one token per action, fetched once");
    }
    first.assert_async().await;
    first.remove_async().await;

    let second = client_credentials_endpoint(
        &mut fx,
        r#"{"access_token":"at-cc-second-Tm3","token_type":"Bearer","expires_in":3600}"#,
    )
    .await;
    fx.clock.advance(SignedDuration::from_secs(3550));
    let (header, _) = authorize_request(t, &provider, &subject("a7", "t1", None)).await.expect("apply");
    assert_eq!(header, "Bearer at-cc-second-Tm3", "fetched again shortly before expiry");
    second.assert_async().await;
}

/// A token endpoint for the client credentials grant, answering `body` once.
pub(crate) async fn client_credentials_endpoint(fx: &mut Fixture, body: &str) -> Mock {
    let basic = fx.basic_auth();
    fx.server
        .mock("POST", TOKEN_PATH)
        .match_header("authorization", basic.as_str())
        .match_body(Matcher::AllOf(vec![
            Matcher::UrlEncoded("grant_type".into(), "client_credentials".into()),
            Matcher::UrlEncoded("scope".into(), SCOPES.join(" ")),
        ]))
        .with_header("content-type", "application/json")
        .with_body(body)
        .expect(1)
        .create_async()
        .await
}

pub(crate) async fn flow_refresh_before_expiry(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::AuthorizationCode, AuthenticateAs::FunctionalUser);
    fx.seed(t, &functional("a1"), "at-old-Bq4", Some("rt-keep-Vn9"), 3600).await;
    t.secret("at-new-Wd5");
    let refresh = fx
        .refresh_mock("rt-keep-Vn9", 200, r#"{"access_token":"at-new-Wd5","token_type":"Bearer","expires_in":3600}"#, 1)
        .await;
    let provider = fx.provider(t, &config);
    let fire = subject("a1", "t1", None);

    let (header, _) = authorize_request(t, &provider, &fire).await.expect("apply");
    assert_eq!(header, "Bearer at-old-Bq4", "far from expiry: no refresh");
    fx.clock.advance(SignedDuration::from_secs(3539));
    let (header, _) = authorize_request(t, &provider, &fire).await.expect("apply");
    assert_eq!(header, "Bearer at-old-Bq4", "61 seconds left, the margin is 60: no refresh yet");
    fx.clock.advance(SignedDuration::from_secs(1));
    let (header, _) = authorize_request(t, &provider, &fire).await.expect("apply");
    assert_eq!(header, "Bearer at-new-Wd5", "60 seconds left: refreshed before expiry");
    let (header, _) = authorize_request(t, &provider, &fire).await.expect("apply");
    assert_eq!(header, "Bearer at-new-Wd5");
    refresh.assert_async().await;
    match fx.stored(t, &functional("a1")).await {
        Some(StoredCredential::Active(token)) => {
            assert_eq!(
                token.refresh_token.as_ref().map(|s| s.expose_secret().to_owned()).as_deref(),
                Some("rt-keep-Vn9"),
                "the refresh token is kept when the provider issues no new one"
            );
            assert_eq!(token.expires_at, fx.clock.now().checked_add(SignedDuration::from_secs(3600)).ok());
        }
        other => panic!("expected an active token, got {other:?}"),
    }
}

pub(crate) async fn flow_refresh_after_unauthorized(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::AuthorizationCode, AuthenticateAs::FunctionalUser);
    fx.seed(t, &functional("a1"), "at-revoked-Hs2", Some("rt-401-Ka7"), 3600).await;
    t.secret("at-after-401-Zu1");
    t.secret("rt-rotated-Qe3");
    let refresh = fx
        .refresh_mock(
            "rt-401-Ka7",
            200,
            r#"{"access_token":"at-after-401-Zu1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-rotated-Qe3"}"#,
            1,
        )
        .await;
    let provider = fx.provider(t, &config);
    let fire = subject("a1", "t1", None);

    let (_, first) = authorize_request(t, &provider, &fire).await.expect("apply");
    let (_, concurrent) = authorize_request(t, &provider, &fire).await.expect("apply");
    let outcome = provider.on_unauthorized(&fire, &first).await.expect("refresh after 401");
    assert_eq!(outcome, UnauthorizedOutcome::Retry);
    let (header, _) = authorize_request(t, &provider, &fire).await.expect("apply");
    assert_eq!(header, "Bearer at-after-401-Zu1");
    // A second request rejected with the same old token finds it already replaced: retry without a second refresh.
    let outcome = provider.on_unauthorized(&fire, &concurrent).await.expect("already refreshed");
    assert_eq!(outcome, UnauthorizedOutcome::Retry);
    refresh.assert_async().await;
    match fx.stored(t, &functional("a1")).await {
        Some(StoredCredential::Active(token)) => assert_eq!(
            token.refresh_token.as_ref().map(|s| s.expose_secret().to_owned()).as_deref(),
            Some("rt-rotated-Qe3"),
            "a rotated refresh token replaces the old one"
        ),
        other => panic!("expected an active token, got {other:?}"),
    }
}

pub(crate) async fn flow_concurrent_refresh(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::AuthorizationCode, AuthenticateAs::FunctionalUser);
    fx.seed(t, &functional("a1"), "at-expired-Ly8", Some("rt-shared-Gc6"), 3600).await;
    fx.clock.advance(SignedDuration::from_secs(7200));
    t.secret("at-shared-fresh-Nf4");
    let refresh = fx
        .refresh_mock(
            "rt-shared-Gc6",
            200,
            r#"{"access_token":"at-shared-fresh-Nf4","token_type":"Bearer","expires_in":3600}"#,
            1,
        )
        .await;
    let provider = fx.provider(t, &config);
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let fires: Vec<_> = (0..20)
        .map(|index| {
            let provider = provider.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let fire = subject("a1", &format!("t{index}"), None);
                let mut request = request();
                barrier.wait().await;
                let applied = provider.apply(&fire, &mut request).await;
                (request, applied)
            })
        })
        .collect();
    for fire in fires {
        let (request, applied) = fire.await.expect("task");
        t.debug(&request);
        t.debug(&applied);
        applied.expect("apply");
        assert_eq!(request.headers[http::header::AUTHORIZATION], "Bearer at-shared-fresh-Nf4");
    }
    refresh.assert_async().await;
}

pub(crate) async fn flow_refresh_failure(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::AuthorizationCode, AuthenticateAs::FunctionalUser);
    let provider = fx.provider(t, &config);

    // The provider refuses the refresh token: the credential is marked, and later fires fail fast with the reason.
    fx.seed(t, &functional("a1"), "at-dying-Mx2", Some("rt-revoked-Sd1"), 3600).await;
    let refused = fx
        .refresh_mock(
            "rt-revoked-Sd1",
            400,
            r#"{"error":"invalid_grant","error_description":"Refresh token revoked"}"#,
            1,
        )
        .await;
    fx.clock.advance(SignedDuration::from_secs(3600));
    for _ in 0..2 {
        let result = authorize_request(t, &provider, &subject("a1", "t1", None)).await;
        let error = t.expect_error(result);
        match &error {
            AuthError::NeedsReauthentication { credential, reason } => {
                assert_eq!(credential, &functional("a1"));
                assert!(reason.contains("invalid_grant") && reason.contains("Refresh token revoked"), "{reason}");
            }
            other => panic!("expected NeedsReauthentication, got {other:?}"),
        }
    }
    refused.assert_async().await;
    assert!(matches!(
        fx.stored(t, &functional("a1")).await,
        Some(StoredCredential::NeedsReauthentication { since, .. }) if since == fx.clock.now()
    ));

    // An unavailable endpoint is reported as such and marks nothing: the next fire may succeed.
    fx.seed(t, &functional("a2"), "at-flaky-Ju3", Some("rt-flaky-Ob5"), 10).await;
    let unavailable = fx.refresh_mock("rt-flaky-Ob5", 503, r#"{"error":"temporarily_unavailable"}"#, 1).await;
    fx.clock.advance(SignedDuration::from_secs(10));
    let result = authorize_request(t, &provider, &subject("a2", "t1", None)).await;
    let error = t.expect_error(result);
    assert!(matches!(error, AuthError::TokenEndpointUnavailable { .. }), "{error:?}");
    unavailable.assert_async().await;
    assert!(matches!(fx.stored(t, &functional("a2")).await, Some(StoredCredential::Active(_))));

    // An expired token without a refresh token needs a new authorization.
    fx.seed(t, &functional("a3"), "at-no-refresh-Ew7", None, 60).await;
    fx.clock.advance(SignedDuration::from_secs(60));
    let result = authorize_request(t, &provider, &subject("a3", "t1", None)).await;
    let error = t.expect_error(result);
    assert!(
        matches!(&error, AuthError::NeedsReauthentication { reason, .. } if reason.contains("no refresh token")),
        "{error:?}"
    );
}

pub(crate) async fn flow_slack_response_shape(t: &mut Transcript) {
    let mut fx = Fixture::new(t).await;
    let config = fx.oauth(t, OAuth2Grant::AuthorizationCode, AuthenticateAs::FunctionalUser);
    let memory = Arc::new(Mutex::new(ProviderMemory::default()));
    t.secret("code-slack-Ab3");
    t.secret("xoxp-1111-2222-slacktoken");
    let authorize_mock = authorize_endpoint(&mut fx, "code-slack-Ab3", memory.clone()).await;
    let exchange_mock = code_exchange_endpoint(
        &mut fx,
        "code-slack-Ab3",
        r#"{"ok":true,"access_token":"xoxp-1111-2222-slacktoken","scope":"channels:read,chat:write:bot","user_id":"U1","team_id":"T1"}"#,
        memory.clone(),
    )
    .await;
    authorize(t, &fx, &config, functional("slack")).await.expect("Slack authorization");
    exchange_mock.assert_async().await;
    authorize_mock.remove_async().await;
    exchange_mock.remove_async().await;

    let provider = fx.provider(t, &config);
    fx.clock.advance(SignedDuration::from_hours(24 * 400));
    let (header, _) = authorize_request(t, &provider, &subject("slack", "t1", None)).await.expect("apply");
    assert_eq!(header, "Bearer xoxp-1111-2222-slacktoken", "no expires_in: the token does not expire");
    match fx.stored(t, &functional("slack")).await {
        Some(StoredCredential::Active(token)) => {
            assert_eq!(token.expires_at, None);
            assert_eq!(token.scopes, ["channels:read", "chat:write:bot"]);
        }
        other => panic!("expected an active token, got {other:?}"),
    }

    // Slack reports errors as HTTP 200 with `"ok": false`.
    t.secret("code-slack-bad-Cx9");
    authorize_endpoint(&mut fx, "code-slack-bad-Cx9", memory.clone()).await;
    let refusal =
        code_exchange_endpoint(&mut fx, "code-slack-bad-Cx9", r#"{"ok":false,"error":"invalid_code"}"#, memory.clone())
            .await;
    let result = authorize(t, &fx, &config, functional("slack-2")).await;
    let error = t.expect_error(result);
    assert!(matches!(&error, AuthError::TokenRejected { error, .. } if error == "invalid_code"), "{error:?}");
    refusal.assert_async().await;
    assert!(fx.stored(t, &functional("slack-2")).await.is_none());
    t.secrets.extend(memory.lock().expect("memory").verifiers.clone());
}

/// The static providers, for the scan: their secrets must not show either.
pub(crate) async fn flow_static_providers(t: &mut Transcript) {
    let settings = [
        AuthSettings::Token { token_type: "Bearer".into(), token: SecretValue::new("static-token-Fv8") },
        AuthSettings::Basic { username: "svc".into(), password: SecretValue::new("basic-password-Gt2") },
        AuthSettings::ApiKey {
            location: ApiKeyLocation::Header,
            name: "X-Api-Key".into(),
            value: SecretValue::new("api-key-header-Hy4"),
        },
        AuthSettings::ApiKey {
            location: ApiKeyLocation::Query,
            name: "key".into(),
            value: SecretValue::new("api key/query+Iu6"),
        },
    ];
    for secret in ["static-token-Fv8", "basic-password-Gt2", "api-key-header-Hy4", "api key/query+Iu6"] {
        t.secret(secret);
    }
    t.secret(STANDARD.encode("svc:basic-password-Gt2"));
    t.secret("api+key%2Fquery%2BIu6");
    let fx = Fixture::new(t).await;
    for settings in &settings {
        t.debug(settings);
        let config = AuthConfig::resolve(settings, resolve_parameter).expect("valid");
        t.debug(&config);
        let provider = fx.authenticator.provider(config);
        t.debug(&provider);
        let mut request = request();
        let applied = provider.apply(&subject("a1", "t1", None), &mut request).await.expect("apply");
        t.debug(&applied);
        t.debug(&request);
        t.formatted.push(applied.redact(request.url.as_str()));
        for value in request.headers.values() {
            t.formatted.push(applied.redact(value.to_str().expect("ascii")));
        }
        assert_eq!(
            provider.on_unauthorized(&subject("a1", "t1", None), &applied).await.expect("401"),
            UnauthorizedOutcome::GiveUp
        );
    }
}
