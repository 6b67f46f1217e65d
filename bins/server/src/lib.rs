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

/// The largest request body accepted (definition files included): 1 MiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler shares: the engine, the metrics, and the signal that ends event streams at shutdown.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine.
    pub(crate) engine: Engine,
    /// Counters and histograms for `/metrics`.
    pub(crate) metrics: Arc<Metrics>,
    /// Becomes `true` when the server shuts down; open event streams end then.
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// State over an engine, with fresh metrics fed from the engine's events, and a shutdown signal.
    ///
    /// Must be called inside a Tokio runtime: the metrics listen to engine events on a task of their own.
    pub fn new(engine: Engine, shutdown: watch::Receiver<bool>) -> Self {
        let metrics = Metrics::spawn(&engine, shutdown.clone());
        Self { engine, metrics, shutdown }
    }
}
