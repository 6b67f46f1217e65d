//! The outbound guard end to end: literal addresses of every refused class, names, redirects, IPv4-mapped IPv6, and
//! the allow list.

mod common;

use common::*;
use cutover_integrations_http::{AddressClass, ErrorKind, ExecutorConfig, FireLog, OutboundPolicy, OutboundRefusal};
use cutover_integrations_model::HttpMethod;
use serde_json::json;
use std::time::Duration;

fn guarded() -> ExecutorConfig {
    ExecutorConfig { outbound: OutboundPolicy::default(), ..config() }
}

async fn fire_at(config: ExecutorConfig, url: &str) -> FireLog {
    let action = action(json!({"request": {"method": "GET", "url": "x"}}));
    let prepared = prepare_fixed(&action, request(HttpMethod::Get, url));
    executor_with(config).0.run_to_completion(&prepared, &fire(), None).await
}

fn failure(log: &FireLog) -> (Option<ErrorKind>, String) {
    let failure = log.result.as_ref().and_then(|result| result.failure.clone());
    (failure.as_ref().map(|failure| failure.kind), failure.map(|failure| failure.reason).unwrap_or_default())
}

#[tokio::test]
async fn literal_addresses_of_every_refused_class_are_blocked() {
    let cases = [
        ("http://127.0.0.1:9/", "127.0.0.1 is a loopback address"),
        ("http://[::1]:9/", "::1 is a loopback address"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://172.20.1.1/", "172.20.1.1 is a private address"),
        ("http://192.168.0.10/", "192.168.0.10 is a private address"),
        ("http://[fd00::1]/", "fd00::1 is a private address"),
        ("http://169.254.10.1/", "169.254.10.1 is a link-local address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://100.64.0.1/", "100.64.0.1 is a carrier-grade NAT address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://[ff02::1]/", "ff02::1 is a multicast address"),
        ("http://0.0.0.0/", "0.0.0.0 is a unspecified address"),
        ("http://[::]/", ":: is a unspecified address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://100.100.100.200/", "100.100.100.200 is a cloud metadata address"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a IPv4-mapped IPv6 address"),
        ("http://[::ffff:a9fe:a9fe]/", "::ffff:169.254.169.254 is a IPv4-mapped IPv6 address"),
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:0:7f00:1]/", "::ffff:0:7f00:1 is a IPv4-mapped IPv6 address"),
        ("http://[64:ff9b:1::7f00:1]/", "64:ff9b:1::7f00:1 is a reserved address"),
        (
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
            "2001:0:4136:e378:8000:63bf:80ff:fffe is a reserved address",
        ),
        ("http://[100::1]/", "100::1 is a reserved address"),
        ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1 is a reserved address"),
        ("http://0x7f.1/", "127.0.0.1 is a loopback address"),
    ];
    for (url, reason) in cases {
        let log = fire_at(guarded(), url).await;
        let (kind, shown) = failure(&log);
        assert_eq!(kind, Some(ErrorKind::SsrfBlocked), "{url}: {shown}");
        assert_eq!(shown, format!("Blocked: {reason} and is not in the outbound allow list"), "{url}");
        assert_eq!(attempts(&log).len(), 1, "{url}: a refusal is not retried");
        assert!(attempts(&log)[0].response.is_none(), "{url}");
    }
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_blocked_after_resolution() {
    let mut server = mockito::Server::new_async().await;
    let never = server.mock("GET", "/").expect(0).create_async().await;
    let port = server.socket_address().port();

    let log = fire_at(guarded(), &format!("http://localhost:{port}/")).await;

    never.assert_async().await;
    let (kind, reason) = failure(&log);
    assert_eq!(kind, Some(ErrorKind::SsrfBlocked), "{reason}");
    assert!(reason.starts_with("Blocked: localhost resolves to "), "{reason}");
    assert!(reason.contains("loopback address"), "{reason}");
}

#[tokio::test]
async fn the_allow_list_admits_loopback_by_address_and_by_name() {
    let mut server = mockito::Server::new_async().await;
    let ok = server.mock("GET", "/").expect(2).create_async().await;
    let port = server.socket_address().port();
    for url in [format!("http://127.0.0.1:{port}/"), format!("http://localhost:{port}/")] {
        let log = fire_at(config(), &url).await;
        assert!(log.result.as_ref().unwrap().succeeded, "{url}: {log:?}");
    }
    ok.assert_async().await;
}

#[tokio::test]
async fn the_allow_list_admits_a_private_network() {
    let mut config = config();
    config.outbound = OutboundPolicy::allowing(["10.0.0.0/8".parse().unwrap()]);
    config.connect_timeout = Duration::from_millis(200);
    config.retry.max_attempts = 1;

    let log = fire_at(config.clone(), "http://10.255.255.1:9/").await;

    // Whatever the network does with the request (refuses it, drops it, answers it), the guard let it through.
    let (kind, reason) = failure(&log);
    assert_ne!(kind, Some(ErrorKind::SsrfBlocked), "{reason}");
    let (kind, _) = failure(&fire_at(config, "http://192.168.0.1:9/").await);
    assert_eq!(kind, Some(ErrorKind::SsrfBlocked), "other private networks stay refused");
}

#[tokio::test]
async fn ipv4_mapped_ipv6_is_blocked_unless_its_address_is_allowed() {
    let mut server = mockito::Server::new_async().await;
    let mock = server.mock("GET", "/").expect(0).create_async().await;
    let port = server.socket_address().port();
    let url = format!("http://[::ffff:127.0.0.1]:{port}/");

    let (kind, reason) = failure(&fire_at(guarded(), &url).await);

    assert_eq!(kind, Some(ErrorKind::SsrfBlocked), "{reason}");
    assert!(reason.contains("IPv4-mapped IPv6"), "{reason}");
    mock.assert_async().await;
}

#[tokio::test]
async fn a_redirect_from_an_allowed_host_to_a_refused_one_is_blocked() {
    let mut server = mockito::Server::new_async().await;
    let targets = [
        "http://169.254.169.254/latest/meta-data/iam",
        "http://10.1.2.3/admin",
        "http://[::ffff:10.0.0.1]/",
        "http://127.0.0.2/",
    ];
    let mut config = config();
    config.outbound = OutboundPolicy::allowing(["127.0.0.1/32".parse().unwrap()]);
    for (index, target) in targets.iter().enumerate() {
        let path = format!("/redirect-{index}");
        let redirect =
            server.mock("GET", path.as_str()).with_status(302).with_header("location", target).create_async().await;

        let log = fire_at(config.clone(), &format!("{}{path}", server.url())).await;

        redirect.assert_async().await;
        let (kind, reason) = failure(&log);
        assert_eq!(kind, Some(ErrorKind::SsrfBlocked), "{target}: {reason}");
        assert!(reason.starts_with("Blocked: "), "{reason}");
    }
}

#[tokio::test]
async fn redirects_within_the_allow_list_are_followed_and_recorded() {
    let mut server = mockito::Server::new_async().await;
    server.mock("POST", "/old").with_status(303).with_header("location", "/new").create_async().await;
    let new = server.mock("GET", "/new").with_body("moved").create_async().await;
    let action = action(json!({"request": {"method": "POST", "url": "x"}}));
    let mut outgoing = request(HttpMethod::Post, format!("{}/old", server.url()));
    outgoing.body = Some("{}".to_owned());
    let prepared = prepare_fixed(&action, outgoing);

    let log = executor().0.run_to_completion(&prepared, &fire(), None).await;

    new.assert_async().await;
    assert!(log.result.as_ref().unwrap().succeeded);
    let response = attempts(&log)[0].response.clone().unwrap();
    assert_eq!(response.final_url, Some(format!("{}/new", server.url())));
    assert_eq!(response.body, "moved");
}

#[tokio::test]
async fn too_many_redirects_fail_the_attempt() {
    let mut server = mockito::Server::new_async().await;
    server.mock("GET", "/loop").with_status(307).with_header("location", "/loop").create_async().await;

    let log = fire_at(config(), &format!("{}/loop", server.url())).await;

    let (kind, reason) = failure(&log);
    assert_eq!(kind, Some(ErrorKind::Redirect));
    assert_eq!(reason, "Too many redirects: more than 5");
}

#[tokio::test]
async fn a_cross_origin_redirect_drops_credential_headers() {
    let mut origin = mockito::Server::new_async().await;
    let mut other = mockito::Server::new_async().await;
    origin
        .mock("GET", "/start")
        .match_header("x-api-key", "k-123")
        .with_status(307)
        .with_header("location", &format!("{}/landing", other.url()))
        .create_async()
        .await;
    let landing = other
        .mock("GET", "/landing")
        .match_header("x-api-key", mockito::Matcher::Missing)
        .match_header("authorization", mockito::Matcher::Missing)
        .match_header("x-custom", "kept")
        .create_async()
        .await;
    let action = action(json!({"request": {"method": "GET", "url": "x"}}));
    let mut outgoing = request(HttpMethod::Get, format!("{}/start", origin.url()));
    outgoing.headers = vec![
        ("X-Api-Key".into(), "k-123".into()),
        ("Authorization".into(), "Bearer b-456".into()),
        ("X-Custom".into(), "kept".into()),
    ];

    let log = executor().0.run_to_completion(&prepare_fixed(&action, outgoing), &fire(), None).await;

    landing.assert_async().await;
    assert!(log.result.unwrap().succeeded);
}

#[tokio::test]
async fn only_http_and_https_are_sent() {
    for url in ["file:///etc/passwd", "ftp://example.com/", "gopher://127.0.0.1:70/"] {
        let (kind, reason) = failure(&fire_at(config(), url).await);
        assert_eq!(kind, Some(ErrorKind::InvalidRequest), "{url}");
        assert!(reason.starts_with("Unsupported URL scheme"), "{reason}");
    }
}

#[tokio::test]
async fn the_guarded_client_builder_applies_the_policy_outside_the_executor() {
    let mut server = mockito::Server::new_async().await;
    server
        .mock("GET", "/to-metadata")
        .with_status(302)
        .with_header("location", "http://169.254.169.254/")
        .create_async()
        .await;
    let ok = server.mock("GET", "/ok").expect(1).create_async().await;
    let port = server.socket_address().port();
    let loopback = OutboundPolicy::allowing(["127.0.0.1/32".parse().unwrap()]);
    let client = loopback.guarded_client_builder().build().unwrap();

    let admitted = client.get(format!("http://localhost:{port}/ok")).send().await.unwrap();
    assert_eq!(admitted.status(), 200);
    ok.assert_async().await;

    let redirected = client.get(format!("{}/to-metadata", server.url())).send().await.unwrap_err();
    assert!(redirected.is_redirect(), "{redirected:?}");
    let refusal = std::error::Error::source(&redirected).and_then(|source| source.downcast_ref::<OutboundRefusal>());
    assert_eq!(refusal.map(|refusal| refusal.class), Some(AddressClass::Metadata));

    let refusing = OutboundPolicy::default().guarded_client_builder().build().unwrap();
    let error = refusing.get(format!("http://localhost:{port}/ok")).send().await.unwrap_err();
    assert!(error.is_connect() && format!("{error:?}").contains("class: Loopback"), "{error:?}");
    assert!(OutboundPolicy::default().check_url(&url::Url::parse("http://10.0.0.1/").unwrap()).is_err());
    assert!(OutboundPolicy::default().check_url(&url::Url::parse("http://example.com/").unwrap()).is_ok());
}

#[tokio::test]
async fn the_executors_auxiliary_client_obeys_the_policy_and_times_out() {
    let silent = silent_server().await;
    let mut config = config();
    config.max_request_timeout = Duration::from_millis(200);
    let client = executor_with(config).0.client();

    let error = client.get(format!("http://localhost:{}/token", silent.port())).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");

    let guarded = executor_with(guarded()).0.client();
    let error = guarded.get(format!("http://localhost:{}/token", silent.port())).send().await.unwrap_err();
    assert!(format!("{error:?}").contains("class: Loopback"), "{error:?}");
}
