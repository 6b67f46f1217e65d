//! Embed runbook custom integrations in a Rust program: `cutover-integrations-core` is the facade of the workspace.
//!
//! It composes the model, template, auth, HTTP, runbook and store crates into an [`Engine`]:
//!
//! - **Commands** ([`Engine::command`]) are applied to the runbook state machine and the new state is stored together
//!   with its effects in one transaction: a fire that becomes due is a row written in the same transaction that
//!   starts its task (an outbox), a fixed start time is a durable timer row.
//! - **The dispatcher** ([`Engine::start`]) claims due fires with a lease, runs them through the HTTP executor one
//!   step at a time (a request, a retry, a poll), and records each step's outcome, its actions log entries and the
//!   runbook's reaction in one transaction. While it runs, fires this engine creates are leased to it at once and run
//!   without a round trip through the database, and changes of a runbook that arrive together are committed together.
//! - **Crash recovery** follows from leases: a fire whose engine died is claimed again once its lease expires and
//!   sent again with the same `Idempotency-Key`. Delivery is at least once; the key lets third parties drop
//!   duplicates. Polling and callback waits are rows with a due time, so they resume after a restart too.
//! - **Several engines** may share one PostgreSQL database: claims use `FOR UPDATE SKIP LOCKED`, runbook writes are
//!   guarded by a version, and a command that loses a race is re-applied to the fresh state.
//!
//! Delivery is at least once, and `docs/ARCHITECTURE.md` (section "Durability") says precisely what survives a
//! killed process, a power loss, and several engines sharing a database.
//!
//! A runbook run in rehearsal (requests rendered and logged, not sent) on an embedded SQLite database:
//!
//! ```
//! use cutover_integrations_core::model::{IntegrationStatus, RunMode};
//! use cutover_integrations_core::{DriveOptions, Engine, ManualTasks, generate_secret_key};
//! use secrecy::ExposeSecret;
//!
//! const CHAT: &str = r#"
//! kind: integration
//! name: Chat
//! actions:
//!   - name: Notify
//!     settings: {auto_start: true, finish_task_on_success: true}
//!     request: {method: POST, url: "https://chat.example.com/hooks/release", payload: '{"text":"{{Task.name}}"}'}
//! "#;
//! const RELEASE: &str = r#"
//! kind: runbook
//! name: Release 42
//! tasks:
//!   - {id: announce, name: Announce, action: Chat/Notify}
//!   - {id: deploy, name: Deploy, predecessors: [announce]}
//! "#;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let directory = tempfile::tempdir()?;
//! let engine = Engine::builder()
//!     .database_url(format!("sqlite://{}", directory.path().join("cutover.db").display()))
//!     .secret_key_base64(generate_secret_key().expose_secret())
//!     .build()
//!     .await?;
//! let running = engine.start();
//! let applied = engine.apply_definitions(&[("chat.yaml", CHAT), ("release.yaml", RELEASE)]).await?;
//! let options = DriveOptions { mode: RunMode::Rehearsal, manual: ManualTasks::Finish };
//! let report = running.drive(applied.runbooks[0], options).await?;
//! assert!(report.succeeded());
//! assert_eq!(report.tasks[0].integration_status, IntegrationStatus::NotSent);
//! running.shutdown().await;
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().expect("runtime").block_on(run()).expect("the example runs");
//! ```
//!
//! `crates/core/examples/embed.rs` runs a live runbook against a webhook and resumes it after a kill.

pub mod access;
mod actions_log;
mod api_token;
mod catalog;
mod command;
mod commit_queue;
mod config;
mod dispatch;
mod dispatcher;
mod drive;
mod drive_report;
mod editing;
mod engine;
mod error;
mod event_delivery;
mod event_log;
mod events;
mod fire_doc;
mod fire_inputs;
mod key_rotation;
mod log_filter;
mod oauth;
mod planning;
mod predefined;
mod render;
mod secret_key_file;
mod sessions;
mod stored_runbook;
mod task_snapshot;
mod users;
mod validation;

pub use actions_log::FireLogView;
pub use api_token::{MintedToken, hash_token, mint_token};
pub use command::UserCommand;
pub use commit_queue::CacheSizes;
pub use config::{EngineBuilder, EngineSettings, generate_secret_key, single_key_ring};
pub use dispatch::RunningEngine;
pub use drive::{DriveOptions, DriveReport, ManualTasks, TaskOutcome};
pub use editing::{AppliedRunbook, ExistingRunbook, IntegrationEdit, REDACTED};
pub use engine::{AppliedDefinitions, AttemptObserver, CreatedUser, Engine, RunbookView};
pub use error::{EngineError, InputProblem};
pub use event_delivery::{DeliveryView, event_types_of};
pub use events::{EndedFires, EngineEvent};
pub use fire_doc::FireOutcome;
pub use key_rotation::{KeyRotation, rotate_secret_key};
pub use log_filter::{DEFAULT_DIRECTIVES, InvalidDirectives, LogFilter, THIRD_PARTY_CAP};
pub use oauth::{OAuthStatus, OAuthTarget};
pub use predefined::InstalledEntry;
pub use secret_key_file::{
    SECRET_KEY_FILE, read_secret_key_file, replace_secret_key_file, secret_key_beside_database, secret_key_path,
};
pub use sessions::{LiveSession, SessionPolicy, StartedSession};
pub use task_snapshot::TaskSnapshot;
pub use users::{MAX_USER_TEXT, checked_new_user};

pub use cutover_integrations_auth as auth;
pub use cutover_integrations_catalog as integration_catalog;
pub use cutover_integrations_http as http;
pub use cutover_integrations_model as model;
pub use cutover_integrations_runbook as runbook;
pub use cutover_integrations_store as store;
pub use cutover_integrations_template as template;
