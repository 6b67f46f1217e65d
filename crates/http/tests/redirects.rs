//! What crosses an origin boundary on a redirect, by the action's `redirects`, and the action's `allowed_hosts` checked
//! before credentials are attached: two loopback servers on different ports are two origins.

mod common;

use common::*;
use cutover_integrations_http::{ErrorKind, FireContext, FireLog, PreparedAction};
use mockito::{Matcher, Mock, Server};
use serde_json::{Value, json};

const SECRET: &str = "param-secret-8c1f2e";

fn failure(log: &FireLog) -> (Option<ErrorKind>, String) {
    let failure = log.result.as_ref().and_then(|result| result.failure.clone());
    (failure.as_ref().map(|failure| failure.kind), failure.map(|failure| failure.reason).unwrap_or_default())
}

/// A fire whose context holds a secret system parameter, redacted like the engine's.
fn secret_fire(values: Value) -> FireContext {
    FireContext::new("fire-1", "rb-1", "task-1", values).with_secret(SECRET)
}

/// An action sending `method` to `url` with a header templated from the secret parameter, a plain header and (for
/// POST) a body, with `extra` keys (`redirects`, `allowed_hosts`) merged in.
fn prepared(method: &str, url: &str, extra: Value) -> PreparedAction {
    let mut definition = json!({
        "request": {
            "method": method,
            "url": url,
            "headers": {"X-Secret": "{{SystemParameter.secret}}", "X-Plain": "plain", "Content-Type": "application/json"},
        },
    });
    if method == "POST" {
        definition["request"]["payload"] = json!(r#"{"secret":"{{SystemParameter.secret}}"}"#);
    }
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        definition[key] = value;
    }
    PreparedAction::compile(&action(definition)).expect("a valid action")
}

async fn fire(prepared: &PreparedAction, values: Value) -> FireLog {
    executor().0.run_to_completion(prepared, &secret_fire(values), None).await
}

fn context() -> Value {
    json!({"SystemParameter": {"secret": SECRET}})
}

/// Mocks that count any GET or POST a server receives: they must receive none.
async fn trap(server: &mut Server) -> Vec<Mock> {
    let mut mocks = Vec::new();
    for method in ["GET", "POST"] {
        mocks.push(server.mock(method, Matcher::Any).expect(0).create_async().await);
    }
    mocks
}

async fn assert_untouched(mocks: &[Mock]) {
    for mock in mocks {
        mock.assert_async().await;
    }
}

/// The origin answers `/start` with `status` to the other server's `/landing`.
async fn redirecting(origin: &mut Server, method: &str, status: usize, to: &Server) {
    origin
        .mock(method, "/start")
        .with_status(status)
        .with_header("location", &format!("{}/landing", to.url()))
        .create_async()
        .await;
}

#[tokio::test]
async fn by_default_a_cross_origin_redirect_carries_no_secret_header() {
    let mut origin = Server::new_async().await;
    let mut other = Server::new_async().await;
    redirecting(&mut origin, "GET", 307, &other).await;
    let landing = other
        .mock("GET", "/landing")
        .match_header("x-secret", Matcher::Missing)
        .match_header("x-plain", "plain")
        .expect(1)
        .create_async()
        .await;

    let log = fire(&prepared("GET", &format!("{}/start", origin.url()), json!({})), context()).await;

    landing.assert_async().await;
    assert!(log.result.as_ref().unwrap().succeeded, "{:?}", failure(&log));
}

#[tokio::test]
async fn by_default_a_body_is_not_resent_to_another_origin() {
    for status in [307, 308] {
        let mut origin = Server::new_async().await;
        let mut other = Server::new_async().await;
        redirecting(&mut origin, "POST", status, &other).await;
        let nothing = trap(&mut other).await;

        let log = fire(&prepared("POST", &format!("{}/start", origin.url()), json!({})), context()).await;

        assert_untouched(&nothing).await;
        let (kind, reason) = failure(&log);
        assert_eq!(kind, Some(ErrorKind::Redirect));
        assert_eq!(
            reason,
            format!(
                "Redirect to another origin ({}) not followed (status {status}): it would resend the request body, and \
                 the action's `redirects` is `same_origin`",
                other.url()
            )
        );
    }
}

#[tokio::test]
async fn a_same_origin_redirect_keeps_headers_and_body() {
    let mut origin = Server::new_async().await;
    origin.mock("POST", "/start").with_status(307).with_header("location", "/landing").create_async().await;
    let landing = origin
        .mock("POST", "/landing")
        .match_header("x-secret", SECRET)
        .match_body(Matcher::Json(json!({"secret": SECRET})))
        .expect(1)
        .create_async()
        .await;

    let log = fire(&prepared("POST", &format!("{}/start", origin.url()), json!({})), context()).await;

    landing.assert_async().await;
    assert!(log.result.as_ref().unwrap().succeeded, "{:?}", failure(&log));
}

#[tokio::test]
async fn redirects_any_sends_everything_where_the_definition_says_so() {
    let mut origin = Server::new_async().await;
    let mut other = Server::new_async().await;
    redirecting(&mut origin, "POST", 307, &other).await;
    let landing = other
        .mock("POST", "/landing")
        .match_header("x-secret", SECRET)
        .match_body(Matcher::Json(json!({"secret": SECRET})))
        .expect(1)
        .create_async()
        .await;

    let log = fire(&prepared("POST", &format!("{}/start", origin.url()), json!({"redirects": "any"})), context()).await;

    landing.assert_async().await;
    assert!(log.result.as_ref().unwrap().succeeded, "{:?}", failure(&log));
}

#[tokio::test]
async fn redirects_any_stays_within_the_allowed_hosts() {
    let mut origin = Server::new_async().await;
    let mut other = Server::new_async().await;
    redirecting(&mut origin, "GET", 302, &other).await;
    let nothing = trap(&mut other).await;
    let allowed = format!("127.0.0.1:{}", origin.socket_address().port());
    let extra = json!({"redirects": "any", "allowed_hosts": [allowed]});

    let log = fire(&prepared("GET", &format!("{}/start", origin.url()), extra), context()).await;

    assert_untouched(&nothing).await;
    let (kind, reason) = failure(&log);
    assert_eq!(kind, Some(ErrorKind::SsrfBlocked));
    assert_eq!(
        reason,
        format!("Blocked: host `127.0.0.1:{}` is not in the action's allowed hosts", other.socket_address().port())
    );
}

#[tokio::test]
async fn redirects_none_follows_nothing() {
    for (origin_local, status) in [(true, 301), (false, 302), (false, 307)] {
        let mut origin = Server::new_async().await;
        let mut other = Server::new_async().await;
        let target = if origin_local { "/landing".to_owned() } else { format!("{}/landing", other.url()) };
        origin.mock("GET", "/start").with_status(status).with_header("location", &target).create_async().await;
        let here = origin.mock("GET", "/landing").expect(0).create_async().await;
        let there = trap(&mut other).await;

        let log =
            fire(&prepared("GET", &format!("{}/start", origin.url()), json!({"redirects": "none"})), context()).await;

        here.assert_async().await;
        assert_untouched(&there).await;
        let (kind, reason) = failure(&log);
        assert_eq!(kind, Some(ErrorKind::Redirect));
        assert_eq!(reason, format!("Redirect not followed (status {status}): the action's `redirects` is `none`"));
    }
}

/// The attack of issue 12: an operator's custom field chooses the host of a request that carries credentials.
#[tokio::test]
async fn an_operator_value_cannot_send_credentials_to_another_host() {
    let mut legit = Server::new_async().await;
    let mut attacker = Server::new_async().await;
    let stolen = trap(&mut attacker).await;
    let ok = legit.mock("GET", "/api").match_header("authorization", "Basic c2VjcmV0").expect(1).create_async().await;
    let (legit_port, attacker_port) = (legit.socket_address().port(), attacker.socket_address().port());
    let action_with = |url: &str| {
        PreparedAction::compile(&action(json!({
            "allowed_hosts": [format!("127.0.0.1:{legit_port}")],
            "request": {"method": "GET", "url": url, "headers": {"Authorization": "Basic {{SystemParameter.secret}}"}},
        })))
        .expect("a valid action")
    };
    let values =
        |instance: String| json!({"CustomField": {"Instance": instance}, "SystemParameter": {"secret": "c2VjcmV0"}});
    let in_host = action_with(&format!("http://{{{{CustomField['Instance']}}}}:{legit_port}/api"));
    let as_base = action_with("{{CustomField['Instance']}}/api");

    // In the host, the value is a host name or nothing: `:`, `/`, `?`, `#` and `@` are refused.
    let log = fire(&in_host, values(format!("127.0.0.1:{attacker_port}/steal#"))).await;
    let (kind, reason) = failure(&log);
    assert_eq!(kind, Some(ErrorKind::Render));
    assert!(
        reason.contains(
            "url: 1:8: the value of `CustomField['Instance']` contains `:` which is not allowed in a URL's host (only a \
             host name or an IP address)"
        ),
        "{reason}"
    );
    // A whole base URL from a field passes the escaper, and is stopped by the allowed hosts before credentials.
    let log = fire(&as_base, values(format!("http://127.0.0.1:{attacker_port}/steal#"))).await;
    let (kind, reason) = failure(&log);
    assert_eq!(kind, Some(ErrorKind::SsrfBlocked));
    assert_eq!(reason, format!("Blocked: host `127.0.0.1:{attacker_port}` is not in the action's allowed hosts"));
    assert!(attempts(&log)[0].request.is_none(), "nothing was sent");
    let log = fire(&as_base, values("http://localhost.:9/".to_owned())).await;
    assert_eq!(failure(&log).1, "Blocked: host `localhost.` is not in the action's allowed hosts");
    assert_untouched(&stolen).await;

    // The legitimate value still works.
    let log = fire(&in_host, values("127.0.0.1".to_owned())).await;
    ok.assert_async().await;
    assert!(log.result.as_ref().unwrap().succeeded, "{:?}", failure(&log));
}
