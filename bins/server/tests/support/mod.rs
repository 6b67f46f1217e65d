//! Shared support of the server's browser tests.

pub mod browser;
