//! The reference server's HTTP layer: axum glue over [`cutover_integrations_core`], with no domain logic.
//!
//! [`app`] is the whole server: the REST API beside the web console (`cutover-integrations-console`) mounted at `/`.
//! [`router`] builds every route of the contract (section 5) from one table ([`routes::ROUTES`]): the table gives
//! each route its method, path, the roles that may call it, and what the OpenAPI document says about it, so the
//! router, the role checks and `/openapi.json` cannot disagree. Handlers parse the request, call the engine, and
//! shape the answer; errors become statuses in one place (`src/error.rs`).
//!
//! The binary (`src/main.rs`) resolves configuration, opens the engine, creates the bootstrap admin, serves the router
//! and shuts down gracefully.

mod access;
mod body;
mod error;
mod handlers;
mod metrics;
mod openapi;
mod paging;
mod preconditions;
mod process_stats;
mod request_log;
mod routes;
mod views;

use cutover_integrations_core::Engine;
use metrics::Metrics;
use std::sync::Arc;
use tokio::sync::watch;

pub use access::Access;
pub use request_log::log_requests;
pub use routes::{API_PREFIX, Answer, Body, In, Param, ROUTES, Route, SchemaOf, router};

/// The whole server: the REST API under [`API_PREFIX`] and the web console at `/`
/// ([`cutover_integrations_console::router`]); unknown paths get the API's JSON 404.
pub fn app(state: AppState, console: cutover_integrations_console::ConsoleSettings) -> axum::Router {
    let console = cutover_integrations_console::router_until(state.engine.clone(), console, state.shutdown.clone())
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track_requests))
        .layer(axum::middleware::from_fn(log_requests));
    router(state).merge(console)
}

/// The largest request body accepted, definition files aside (see [`Limits`]): 1 MiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The default largest definition file (`POST /definitions`, `POST /runbooks`): 32 MiB, a runbook of several
/// hundred thousand tasks.
pub const DEFINITION_LIMIT: usize = 32 * 1024 * 1024;

/// How large request bodies may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Any body but a definition file ([`BODY_LIMIT`] by default).
    pub body_bytes: usize,
    /// A definition file ([`DEFINITION_LIMIT`] by default): a large runbook is one file.
    pub definition_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { body_bytes: BODY_LIMIT, definition_bytes: DEFINITION_LIMIT }
    }
}

/// How many definition files have their syntax checked at once (off the async workers); others wait their turn.
const CONCURRENT_SYNTAX_CHECKS: usize = 2;

/// What every handler shares: the engine, the metrics, and the signal that ends event streams at shutdown.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine.
    pub(crate) engine: Engine,
    /// Counters and histograms for `/metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// Becomes `true` when the server shuts down; open event streams end then.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Body size limits.
    pub(crate) limits: Limits,
    /// Turns to check a definition file's syntax on a blocking thread.
    pub(crate) syntax_checks: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State over an engine, with fresh metrics fed from the engine's events, and a shutdown signal; the default
    /// [`Limits`].
    ///
    /// Must be called inside a Tokio runtime: the metrics listen to engine events on a task of their own.
    pub fn new(engine: Engine, shutdown: watch::Receiver<bool>) -> Self {
        let metrics = Metrics::spawn(&engine, shutdown.clone());
        Self {
            engine,
            metrics,
            shutdown,
            limits: Limits::default(),
            syntax_checks: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_SYNTAX_CHECKS)),
        }
    }

    /// The same state with other body size limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}
