//! Signing in with an API token, and out.

use super::layout::{self, Section};
use crate::Console;
use crate::forms::Form;
use crate::guard::{CSRF_FIELD, SESSION_COOKIE, SIGN_IN_COOKIE, Signed, set_cookie};
use crate::session::random_token;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use maud::html;
use secrecy::ExposeSecret as _;

/// How long the sign-in form's token lasts: an hour.
const SIGN_IN_SECONDS: u64 = 3600;

fn form(token: &str, problem: Option<&str>) -> maud::Markup {
    let body = html! {
        div class="sign-in" {
            h1 { "Sign in" }
            p class="hint" { "Use your API token. The server prints the bootstrap admin's token when it first starts." }
            @if let Some(problem) = problem {
                p class="problems" role="alert" { (problem) }
            }
            form method="post" action="/sign-in" {
                input type="hidden" name=(CSRF_FIELD) value=(token);
                label for="token" { "API token" }
                input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
                button type="submit" class="primary" { "Sign in" }
            }
        }
    };
    layout::page("Sign in", None, Section::None, body)
}

fn sign_in_page(console: &Console, status: StatusCode, problem: Option<&str>) -> Response {
    let token = random_token();
    let cookie = set_cookie(SIGN_IN_COOKIE, &token, SIGN_IN_SECONDS, console.settings.secure_cookies);
    (AppendHeaders([(SET_COOKIE, cookie)]), layout::respond(status, form(&token, problem))).into_response()
}

/// `GET /sign-in`: the form, or the console for a signed-in user.
pub(crate) async fn page(State(console): State<Console>, signed: Option<Signed>) -> Response {
    if signed.is_some() {
        return Redirect::to("/settings/integrations").into_response();
    }
    sign_in_page(&console, StatusCode::OK, None)
}

/// `POST /sign-in`: exchanges the token for a session cookie.
pub(crate) async fn submit(State(console): State<Console>, form: Form) -> Response {
    let token = form.text("token");
    let user = match console.engine.authenticate(&token).await {
        Ok(Some(user)) => user,
        Ok(None) => return sign_in_page(&console, StatusCode::UNAUTHORIZED, Some("That API token is not valid.")),
        Err(error) => return crate::ConsoleError::from(error).into_response(),
    };
    let started = match console.engine.start_session(&user, &console.settings.sessions).await {
        Ok(started) => started,
        Err(error) => return crate::ConsoleError::from(error).into_response(),
    };
    let secure = console.settings.secure_cookies;
    let max_age = console.settings.sessions.lifetime.as_secs();
    let cookies = [
        (SET_COOKIE, set_cookie(SESSION_COOKIE, started.id.expose_secret(), max_age, secure)),
        (SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", 0, secure)),
    ];
    (AppendHeaders(cookies), Redirect::to("/settings/integrations")).into_response()
}

/// `POST /sign-out`: ends the session and clears the cookie.
pub(crate) async fn sign_out(State(console): State<Console>, signed: Option<Signed>) -> Response {
    if let Some(signed) = signed
        && let Err(error) = console.engine.end_session(&signed.0.id_hash).await
    {
        return crate::ConsoleError::from(error).into_response();
    }
    let cookie = set_cookie(SESSION_COOKIE, "", 0, console.settings.secure_cookies);
    (AppendHeaders([(SET_COOKIE, cookie)]), Redirect::to("/sign-in")).into_response()
}
