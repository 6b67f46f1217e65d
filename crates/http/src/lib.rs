//! The HTTP executor: what happens when an integration action fires.
//!
//! This crate will own the four execution modes (`fire_and_forget`, `sync`, `polling`, `callback`), response conditions
//! and mapping by JSONPath, retries with backoff and `Idempotency-Key`, the SSRF guard that refuses private addresses
//! after DNS resolution and at every redirect, and the actions log record with every secret redacted.
