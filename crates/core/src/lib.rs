//! Embed runbook custom integrations in a Rust program: `cutover-integrations-core` is the facade of the workspace.
//!
//! It composes the model, template, auth, HTTP, runbook and store crates into an engine: commands are applied to the
//! runbook state machine and persisted with their effects in one transaction; a dispatcher claims due fires with a lease
//! and runs them through the executor; timers are durable. The domain types are re-exported so that an embedder needs
//! only this crate.

pub use cutover_integrations_model as model;
