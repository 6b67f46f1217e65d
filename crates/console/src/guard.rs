//! The console's gate, run before every handler: finds the session of the cookie, refuses state-changing requests
//! without the CSRF token, and puts the security headers on every answer.

use crate::error::ConsoleError;
use crate::session::Session;
use crate::{Console, FORM_LIMIT};
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY as CSP, COOKIE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_integrations_core::access::Access;
use subtle::ConstantTimeEq as _;

/// The Content-Security-Policy of every console answer: our own scripts and styles only, nothing inline, no framing.
/// Images may come from https (integration icons are URLs of the integrations' choosing) and `data:`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' https: data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "cutover_session";
/// The pre-session cookie that carries the sign-in form's CSRF token.
pub(crate) const SIGN_IN_COOKIE: &str = "cutover_sign_in";
/// The form field of the CSRF token.
pub(crate) const CSRF_FIELD: &str = "csrf";
/// The header of the CSRF token, for `fetch`.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, path `/`, `Secure` when asked; `max_age` 0 deletes it.
pub(crate) fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// Whether `sent` equals `expected`, in time that does not depend on where they differ.
pub(crate) fn same_token(sent: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
}

/// The gate (see the module docs).
pub(crate) async fn guard(State(console): State<Console>, mut request: Request, next: Next) -> Response {
    let session = match cookie(request.headers(), SESSION_COOKIE) {
        Some(id) => match console.engine.session(id, &console.settings.sessions).await {
            Ok(found) => found.map(|live| Session { user: live.user, csrf: live.csrf, id_hash: live.id_hash }),
            Err(error) => return secure(ConsoleError::from(error).into_response()),
        },
        None => None,
    };
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe {
        let expected = if request.uri().path() == "/sign-in" {
            cookie(request.headers(), SIGN_IN_COOKIE).map(str::to_owned)
        } else {
            session.as_ref().map(|session| session.csrf.clone())
        };
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
            Ok(bytes) => bytes,
            Err(_) => return secure((StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response()),
        };
        let sent =
            parts.headers.get(CSRF_HEADER).and_then(|value| value.to_str().ok()).map(str::to_owned).or_else(|| {
                url::form_urlencoded::parse(&bytes)
                    .find(|(key, _)| key == CSRF_FIELD)
                    .map(|(_, value)| value.into_owned())
            });
        let accepted = match (&sent, &expected) {
            (Some(sent), Some(expected)) => same_token(sent, expected),
            _ => false,
        };
        if !accepted {
            if session.is_none() && parts.uri.path() != "/sign-in" {
                return secure(not_signed_in(&parts.method));
            }
            return secure(ConsoleError::Csrf.into_response());
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    if let Some(session) = session {
        request.extensions_mut().insert(session);
    }
    let is_asset = request.uri().path().starts_with("/assets/");
    let mut response = next.run(request).await;
    if !is_asset {
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    secure(response)
}

fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(CSP, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(HeaderName::from_static("x-frame-options"), HeaderValue::from_static("DENY"));
    response
}

fn not_signed_in(method: &Method) -> Response {
    match *method {
        Method::GET | Method::HEAD => Redirect::to("/sign-in").into_response(),
        _ => (StatusCode::UNAUTHORIZED, "sign in first").into_response(),
    }
}

/// The signed-in session of a request; without one, GET requests are sent to the sign-in page.
#[derive(Debug, Clone)]
pub(crate) struct Signed(pub(crate) Session);

impl Signed {
    /// Whether the user may do what `access` guards.
    pub(crate) fn may(&self, access: Access) -> bool {
        access.admits(&self.0.user.roles)
    }

    /// Refuses unless the user may do what `access` guards.
    pub(crate) fn require(&self, access: Access, what: &str) -> Result<(), ConsoleError> {
        if self.may(access) {
            return Ok(());
        }
        let roles: Vec<String> = access.roles().iter().map(crate::pages::role_name).collect();
        Err(ConsoleError::Forbidden(format!("{what} needs one of the roles {}", roles.join(", "))))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Session>().cloned().map(Signed).ok_or_else(|| not_signed_in(&parts.method))
    }
}

impl<S: Send + Sync> axum::extract::OptionalFromRequestParts<S> for Signed {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Session>().cloned().map(Signed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name_and_tokens_compared_whole() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; cutover_session=abc; b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
        let cases = [("abc", "abc", true), ("abd", "abc", false), ("ab", "abc", false), ("", "", false)];
        for (sent, expected, same) in cases {
            assert_eq!(same_token(sent, expected), same, "{sent} {expected}");
        }
        assert_eq!(set_cookie("n", "v", 60, true), "n=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
    }
}
