//! Auth type `standard_webhooks`: the specification's test vector, the headers on a request, and what is refused.

use cutover_integrations_auth::{
    AuthConfig, AuthError, Authenticator, AuthenticatorSettings, Cipher, FireSubject, InMemoryCredentialStore, Key,
    KeyId, KeyRing, ManualClock, OutgoingRequest, StandardWebhooksAuth,
};
use cutover_integrations_model::{AuthSettings, SecretValue, decode_webhook_secret};
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use std::sync::Arc;
use url::Url;

/// The test vector published with the Standard Webhooks reference implementations.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const MESSAGE_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1_614_265_330;
const BODY: &str = r#"{"test": 2432232314}"#;
const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn authenticator(clock: Arc<ManualClock>) -> Authenticator {
    let store = Arc::new(InMemoryCredentialStore::new(Arc::new(Cipher::new(KeyRing::new(KeyId(1), Key::generate())))));
    let settings = AuthenticatorSettings::new(Url::parse("https://cutover.example/oauth/callback").expect("url"));
    Authenticator::new(store, reqwest::Client::new(), clock, settings)
}

fn literal(value: &SecretValue) -> Result<SecretString, String> {
    Ok(SecretString::from(value.expose()))
}

fn subject() -> FireSubject {
    FireSubject { action: "a".into(), runbook: "r".into(), task: "t".into(), user: None }
}

fn settings(secret: &str) -> AuthSettings {
    AuthSettings::StandardWebhooks { secret: SecretValue::new(secret) }
}

#[test]
fn the_specification_test_vector_reproduces() {
    let key = decode_webhook_secret(SECRET).expect("valid secret");
    let signer = StandardWebhooksAuth::new(key, Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH)));
    assert_eq!(signer.signature(MESSAGE_ID, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
}

#[tokio::test]
async fn each_attempt_is_signed_with_the_fire_key_and_its_own_time() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_second(TIMESTAMP).expect("time")));
    let config = AuthConfig::resolve(&settings(SECRET), literal).expect("valid");
    assert_eq!(config.type_name(), "standard_webhooks");
    let provider = authenticator(Arc::clone(&clock)).provider(config);
    let request = || {
        let mut request =
            OutgoingRequest::new(http::Method::POST, Url::parse("https://hooks.example/in").expect("url"));
        request.headers.insert("idempotency-key", MESSAGE_ID.parse().expect("header"));
        request.body = Some(BODY.to_owned());
        request
    };
    let mut first = request();
    let applied = provider.apply(&subject(), &mut first).await.expect("signed");
    let header = |request: &OutgoingRequest, name: &str| request.headers[name].to_str().expect("ascii").to_owned();
    assert_eq!(header(&first, "webhook-id"), MESSAGE_ID);
    assert_eq!(header(&first, "webhook-timestamp"), TIMESTAMP.to_string());
    assert_eq!(header(&first, "webhook-signature"), SIGNATURE);
    assert!(first.headers["webhook-signature"].is_sensitive());
    assert_eq!(first.body.as_deref(), Some(BODY), "the body is signed, not changed");
    assert_eq!(applied.headers(), ["webhook-signature"]);
    assert_eq!(applied.redact(&format!("sig={SIGNATURE}")), "sig=[REDACTED]");

    // A retry a minute later: the same id, a new timestamp, a new signature.
    clock.advance(SignedDuration::from_secs(60));
    let mut retry = request();
    provider.apply(&subject(), &mut retry).await.expect("signed");
    assert_eq!(header(&retry, "webhook-id"), MESSAGE_ID);
    assert_eq!(header(&retry, "webhook-timestamp"), (TIMESTAMP + 60).to_string());
    let key = decode_webhook_secret(SECRET).expect("valid");
    let expected = StandardWebhooksAuth::new(key, clock.clone()).signature(MESSAGE_ID, TIMESTAMP + 60, BODY.as_bytes());
    assert_eq!(header(&retry, "webhook-signature"), expected);
    assert_ne!(expected, SIGNATURE);

    for shown in [format!("{provider:?}"), format!("{first:?}"), format!("{applied:?}")] {
        assert!(!shown.contains("MfKQ9r8G") && !shown.contains(&SIGNATURE[3..]), "{shown}");
    }
}

#[tokio::test]
async fn a_request_without_idempotency_key_is_refused() {
    let clock = Arc::new(ManualClock::new(Timestamp::UNIX_EPOCH));
    let provider = authenticator(clock).provider(AuthConfig::resolve(&settings(SECRET), literal).expect("valid"));
    let mut request = OutgoingRequest::new(http::Method::POST, Url::parse("https://hooks.example/in").expect("url"));
    let error = provider.apply(&subject(), &mut request).await.expect_err("no id");
    assert!(error.to_string().contains("Idempotency-Key"), "{error}");
    assert!(request.headers.is_empty());
}

#[test]
fn malformed_secrets_are_refused_when_resolved_without_quoting_them() {
    for (secret, fragment) in [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starts with `whsec_`"),
        ("whsec_MfKQ9r8G!!", "standard base64"),
        ("whsec_c2hvcnQ=", "24 to 64 bytes"),
    ] {
        let error = AuthConfig::resolve(&settings(secret), literal).map(|_| ()).expect_err(secret);
        assert!(matches!(error, AuthError::InvalidConfig { field: "secret", .. }), "{error:?}");
        assert!(error.to_string().contains(fragment), "{error}");
        assert!(!error.to_string().contains(secret), "{error}");
    }
    let resolved = AuthConfig::resolve(&settings("{{SystemParameter['hook']}}"), |_: &SecretValue| {
        Ok::<_, String>(SecretString::from(SECRET))
    })
    .expect("a parameter holding the secret");
    assert!(!format!("{resolved:?}").contains("MfKQ"));
}
