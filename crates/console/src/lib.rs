//! The web console of cutover-integrations: server-rendered pages over the [`Engine`], as an axum [`Router`].
//!
//! [`router`] gives a router to mount at `/` (the reference server mounts it beside its REST API; an embedder can
//! mount it in its own axum application). Pages are rendered on the server from compile-time-checked `maud`
//! templates; a small stylesheet and one ES module of our own are embedded in the binary and served under a
//! content-hashed URL with long cache headers.
//!
//! Security, in one place (`src/guard.rs`):
//!
//! - Sign-in exchanges an API token ([`Engine::authenticate`]) for a session cookie: an opaque random id, kept in
//!   the store only as its SHA-256 hash (so sessions survive a restart), `HttpOnly`, `SameSite=Strict`, `Secure` when
//!   the public URL is https, and expiring ([`SessionSettings`]: idle and absolute deadlines, checked by the store's
//!   lookup).
//! - Every state-changing request carries the session's CSRF token (a hidden form field, or the `X-CSRF-Token` header
//!   for `fetch`), compared in constant time; the sign-in form carries a pre-session token of its own.
//! - Every answer has a strict Content-Security-Policy (no inline script or style anywhere), `nosniff` and
//!   `Referrer-Policy: no-referrer`.
//! - Roles follow the same rules as the REST API ([`cutover_integrations_core::access`]): a control a role may not use
//!   is not offered, and the handler refuses it anyway.
//! - Secrets are never rendered: a stored secret shows as a masked placeholder and can only be replaced.

mod assets;
mod error;
mod forms;
mod guard;
mod pages;
mod session;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use cutover_integrations_core::Engine;
use std::sync::Arc;

pub use error::ConsoleError;
pub use guard::CONTENT_SECURITY_POLICY;

/// How long console sessions live and how many one user keeps: the engine's
/// [`SessionPolicy`](cutover_integrations_core::SessionPolicy).
pub use cutover_integrations_core::SessionPolicy as SessionSettings;

/// The console's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// Session lifetimes and bounds.
    pub sessions: SessionSettings,
    /// Whether cookies carry `Secure` (set it when the console is reached over https).
    pub secure_cookies: bool,
}

impl ConsoleSettings {
    /// Settings for a console reached at `public_url`: secure cookies when it is https.
    pub fn for_public_url(public_url: &url::Url) -> Self {
        Self { sessions: SessionSettings::default(), secure_cookies: public_url.scheme() == "https" }
    }
}

/// What every console handler shares.
#[derive(Debug, Clone)]
pub(crate) struct Console {
    pub(crate) engine: Engine,
    pub(crate) settings: Arc<ConsoleSettings>,
    /// Becomes `true` when the server shuts down: event streams end.
    pub(crate) shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

/// The largest form the console accepts: 256 KiB.
pub const FORM_LIMIT: usize = 256 * 1024;

/// The console's routes, to mount at `/`. Its event streams end only with their clients; see [`router_until`].
pub fn router(engine: Engine, settings: ConsoleSettings) -> Router {
    build(engine, settings, None)
}

/// The console's routes, to mount at `/`, with event streams that end when `shutdown` becomes `true` (so that a
/// graceful shutdown does not wait for open pages).
pub fn router_until(engine: Engine, settings: ConsoleSettings, shutdown: tokio::sync::watch::Receiver<bool>) -> Router {
    build(engine, settings, Some(shutdown))
}

fn build(engine: Engine, settings: ConsoleSettings, shutdown: Option<tokio::sync::watch::Receiver<bool>>) -> Router {
    let console = Console { engine, settings: Arc::new(settings), shutdown };
    Router::new()
        .route("/", get(pages::home))
        .route("/sign-in", get(pages::sign_in::page).post(pages::sign_in::submit))
        .route("/sign-out", post(pages::sign_in::sign_out))
        .route("/runbooks", get(pages::runbooks::list).post(pages::runbooks::create))
        .route("/runbooks/{id}", get(pages::runbook::page))
        .route("/runbooks/{id}/duplicate", post(pages::runbooks::duplicate))
        .route("/runbooks/{id}/events", get(pages::runbook::events))
        .route("/runbooks/{id}/tasks", post(pages::runbook::add_task))
        .route("/runbooks/{id}/tasks/{task}/panel", get(pages::runbook::panel))
        .route("/runbooks/{id}/tasks/{task}/authenticate", get(pages::runbook::authenticate))
        .route("/runbooks/{id}/tasks/{task}/{action}", post(pages::runbook::task_action))
        .route("/runbooks/{id}/{action}", post(pages::runbook::lifecycle))
        .route("/settings", get(pages::settings))
        .route("/settings/integrations", get(pages::integrations::list).post(pages::integrations::create))
        .route("/settings/integrations/{id}", get(pages::integrations::edit).post(pages::integrations::save))
        .route("/settings/integrations/{id}/archive", post(pages::integrations::archive))
        .route("/settings/integrations/{id}/actions", post(pages::actions::create))
        .route("/settings/integrations/{id}/actions/new", get(pages::actions::new))
        .route("/settings/integrations/{id}/actions/{action}", get(pages::actions::edit).post(pages::actions::save))
        .route("/settings/integrations/{id}/actions/{action}/authenticate", get(pages::actions::authenticate))
        .route("/settings/check-template", post(pages::actions::check_template))
        .route("/settings/custom-fields", get(pages::custom_fields::list).post(pages::custom_fields::create))
        .route("/settings/system-parameters", get(pages::parameters::list).post(pages::parameters::put))
        .route("/settings/users", get(pages::users::list).post(pages::users::create))
        .route("/settings/event-integrations", get(pages::event_integrations::list))
        .route("/assets/{name}", get(assets::serve))
        .route("/assets/catalog/{file}", get(assets::catalog_icon))
        .layer(axum::middleware::from_fn_with_state(console.clone(), guard::guard))
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .with_state(console)
}
