//! Persistence behind a trait, with SQLite (the embedded default) and PostgreSQL implementations.
//!
//! This crate will own the schema and migrations of both backends and a store trait covering definitions, system
//! parameters (secrets encrypted), runbooks, tasks, fires and their actions log, credentials, users, API tokens (hashed),
//! OAuth states, durable timers and the outbox of due fires claimed with leases.
