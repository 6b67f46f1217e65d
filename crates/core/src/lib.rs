//! Embed runbook custom integrations in a Rust program: `cutover-integrations-core` is the facade of the workspace.
//!
//! It composes the model, template, auth, HTTP, runbook and store crates into an [`Engine`]:
//!
//! - **Commands** ([`Engine::command`]) are applied to the runbook state machine and the new state is stored together
//!   with its effects in one transaction: a fire that becomes due is a row written in the same transaction that
//!   starts its task (an outbox), a fixed start time is a durable timer row.
//! - **The dispatcher** ([`Engine::start`]) claims due fires with a lease, runs them through the HTTP executor one
//!   step at a time (a request, a retry, a poll), and records each step's outcome, its actions log entries and the
//!   runbook's reaction in one transaction. Fires this engine creates are leased to it at once and run without a
//!   round trip through the database.
//! - **Crash recovery** follows from leases: a fire whose engine died is claimed again once its lease expires and
//!   sent again with the same `Idempotency-Key`. Delivery is at least once; the key lets third parties drop
//!   duplicates. Polling and callback waits are rows with a due time, so they resume after a restart too.
//! - **Several engines** may share one PostgreSQL database: claims use `FOR UPDATE SKIP LOCKED`, runbook writes are
//!   guarded by a version, and a command that loses a race is re-applied to the fresh state.
//!
//! ```no_run
//! # async fn run() -> Result<(), cutover_integrations_core::EngineError> {
//! use cutover_integrations_core::{Engine, generate_secret_key, runbook::{Actor, Command}, model::RunMode};
//! use secrecy::ExposeSecret;
//!
//! let engine = Engine::builder()
//!     .database_url("sqlite://./data/cutover.db")
//!     .secret_key_base64(generate_secret_key().expose_secret())
//!     .build()
//!     .await?;
//! let running = engine.start();
//! let applied = engine
//!     .apply_definitions(&[
//!         ("slack.yaml", &std::fs::read_to_string("examples/slack.yaml").expect("example")),
//!         ("release.yaml", &std::fs::read_to_string("examples/release.yaml").expect("example")),
//!     ])
//!     .await?;
//! let runbook = applied.runbooks[0];
//! engine.command(runbook, Command::StartRunbook { mode: RunMode::Rehearsal }, &Actor::engine()).await?;
//! running.shutdown().await;
//! # Ok(()) }
//! ```

mod actions_log;
mod api_token;
mod catalog;
mod config;
mod dispatch;
mod drive;
mod drive_report;
mod editing;
mod engine;
mod error;
mod events;
mod oauth;
mod render;
mod secret_key_file;

pub use actions_log::FireLogView;
pub use api_token::{MintedToken, hash_token, mint_token};
pub use config::{EngineBuilder, EngineSettings, generate_secret_key, single_key_ring};
pub use dispatch::RunningEngine;
pub use drive::{DriveOptions, DriveReport, ManualTasks, TaskOutcome};
pub use editing::{IntegrationEdit, REDACTED};
pub use engine::{AppliedDefinitions, CreatedUser, Engine, RunbookView};
pub use error::{EngineError, InputProblem};
pub use events::EngineEvent;
pub use oauth::OAuthTarget;
pub use secret_key_file::{SECRET_KEY_FILE, secret_key_beside_database, secret_key_path};

pub use cutover_integrations_auth as auth;
pub use cutover_integrations_http as http;
pub use cutover_integrations_model as model;
pub use cutover_integrations_runbook as runbook;
pub use cutover_integrations_store as store;
pub use cutover_integrations_template as template;
