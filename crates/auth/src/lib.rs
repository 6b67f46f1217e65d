//! Auth providers and credential encryption for integration actions.
//!
//! This crate will own how credentials reach an outgoing request: `none`, `token`, `basic`, `api_key` and `oauth2`
//! (authorization code with PKCE, client credentials, proactive and single-flight refresh), and the authenticated cipher
//! that keeps every secret encrypted at rest. Secrets never leave this crate and the store in clear, except on the wire.
