//! The runbook state machine: pure, with no I/O, no clock reads and no async.
//!
//! This crate will own runbook and task states and every transition of contract section 6. Commands and events go in
//! (start, finish, skip, cancel, refire, fire outcomes, time passed), and out come the new state plus effects for the
//! engine to carry out (fire an action, send a cancel notification, schedule a wake-up, emit an event). Being pure makes
//! it testable with property tests and lets the store persist state and effects in one transaction.
