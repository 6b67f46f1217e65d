//! Auth type `standard_webhooks`: signs each request per the Standard Webhooks specification.
//!
//! Three headers go on every attempt: `webhook-id` (the request's `Idempotency-Key`, so that retries and re-sends of
//! one fire carry one id and a receiver can drop duplicates), `webhook-timestamp` (seconds since the epoch, taken per
//! attempt, so that a receiver's replay window holds for retries sent minutes later) and `webhook-signature`:
//! `v1,` and the base64 of HMAC-SHA256 under the secret's key of `{id}.{timestamp}.{body}`.

use crate::config::Redacted;
use crate::{AppliedCredentials, AuthError, Clock, FireSubject, OutgoingRequest, UnauthorizedOutcome};
use crate::{AuthProvider, provider::sensitive_header};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// The header carrying the message id.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The header carrying the attempt's Unix time in seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// The header carrying the signature.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Signs requests per the Standard Webhooks specification with a key decoded from a `whsec_` secret.
#[derive(Clone)]
pub struct StandardWebhooksAuth {
    key: Arc<SecretSlice<u8>>,
    clock: Arc<dyn Clock>,
}

impl StandardWebhooksAuth {
    /// A provider signing with `key` (the bytes a `whsec_` secret decodes to) and stamping times from `clock`.
    pub fn new(key: SecretSlice<u8>, clock: Arc<dyn Clock>) -> Self {
        Self { key: Arc::new(key), clock }
    }

    /// The `webhook-signature` value of a message: `v1,` and the base64 of HMAC-SHA256 of `{id}.{timestamp}.{body}`.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let timestamp = timestamp.to_string();
        let mac = hmac_sha256(self.key.expose_secret(), &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body]);
        format!("v1,{}", BASE64.encode(mac))
    }
}

impl fmt::Debug for StandardWebhooksAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandardWebhooksAuth").field("key", &Redacted).finish()
    }
}

#[async_trait]
impl AuthProvider for StandardWebhooksAuth {
    async fn apply(&self, _: &FireSubject, request: &mut OutgoingRequest) -> Result<AppliedCredentials, AuthError> {
        let id = request
            .headers
            .get("idempotency-key")
            .and_then(|value| value.to_str().ok())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| AuthError::InvalidConfig {
                field: "secret",
                message: "a Standard Webhooks request needs an `Idempotency-Key` header to use as its `webhook-id`"
                    .to_owned(),
            })?
            .to_owned();
        let timestamp = self.clock.now().as_second();
        let body = request.body.as_deref().unwrap_or_default().as_bytes();
        let signature = self.signature(&id, timestamp, body);
        let mut applied = AppliedCredentials::none();
        let header = |value: &str| {
            HeaderValue::from_str(value).map_err(|_| AuthError::InvalidCredentialValue { field: "secret" })
        };
        request.headers.insert(HeaderName::from_static(WEBHOOK_ID), header(&id)?);
        request.headers.insert(HeaderName::from_static(WEBHOOK_TIMESTAMP), header(&timestamp.to_string())?);
        request.headers.insert(HeaderName::from_static(WEBHOOK_SIGNATURE), sensitive_header(&signature, "secret")?);
        // The signature is hidden by name in the actions log and dropped on a redirect to another origin.
        applied.add_header(HeaderName::from_static(WEBHOOK_SIGNATURE));
        applied.add_secret(&signature);
        Ok(applied)
    }

    async fn on_unauthorized(&self, _: &FireSubject, _: &AppliedCredentials) -> Result<UnauthorizedOutcome, AuthError> {
        Ok(UnauthorizedOutcome::GiveUp)
    }
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `message` parts; a key longer than a block is hashed first.
fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let hashed;
    let key = if key.len() > BLOCK {
        hashed = Sha256::digest(key);
        hashed.as_slice()
    } else {
        key
    };
    let mut inner_pad = [0x36u8; BLOCK];
    let mut outer_pad = [0x5cu8; BLOCK];
    for (index, byte) in key.iter().enumerate() {
        inner_pad[index] ^= byte;
        outer_pad[index] ^= byte;
    }
    let mut inner = Sha256::new().chain_update(inner_pad);
    for part in message {
        inner.update(part);
    }
    Sha256::new().chain_update(outer_pad).chain_update(inner.finalize()).finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// RFC 4231 test cases 1, 2 and 6 (a key longer than a block).
    #[test]
    fn hmac_matches_rfc_4231() {
        let long_key = [0xaau8; 131];
        let cases: [(&[u8], &[u8], &str); 3] = [
            (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &long_key,
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, message, expected) in cases {
            assert_eq!(hex(&hmac_sha256(key, &[message])), expected);
        }
    }
}
