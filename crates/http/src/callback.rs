//! Callback fires: minting the URL and bearer token a third party calls back with, verifying it, and the report it
//! sends.
//!
//! The token is an HMAC-SHA256 of the fire id under a server key, so it is never stored: a restarted server mints the
//! same token for a re-sent request, and verifies a callback by minting again and comparing in constant time.

use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use subtle::ConstantTimeEq;

use cutover_integrations_model::FieldValue;

/// Mints and verifies callback URLs and tokens.
pub struct CallbackAuthority {
    key: SecretBox<[u8; 32]>,
    base_url: String,
}

impl fmt::Debug for CallbackAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackAuthority").field("base_url", &self.base_url).field("key", &"[REDACTED]").finish()
    }
}

impl CallbackAuthority {
    /// An authority signing with `key` (keep it secret and stable across restarts) for a server whose public base URL
    /// (`CUTOVER_PUBLIC_URL`) is `public_base_url`.
    pub fn new(key: [u8; 32], public_base_url: &str) -> Self {
        Self { key: SecretBox::new(Box::new(key)), base_url: public_base_url.trim_end_matches('/').to_owned() }
    }

    /// The URL and token of `fire_id`'s callback: `{base}/api/v1/callbacks/{fire_id}`.
    pub fn mint(&self, fire_id: &str) -> CallbackTicket {
        let encoded: String = url::form_urlencoded::byte_serialize(fire_id.as_bytes()).collect();
        CallbackTicket {
            url: format!("{}/api/v1/callbacks/{encoded}", self.base_url),
            token: SecretString::from(hex::encode(self.sign(fire_id))),
        }
    }

    /// Whether `presented` is the token of `fire_id`, compared in constant time.
    pub fn verify(&self, fire_id: &str, presented: &str) -> bool {
        let expected = hex::encode(self.sign(fire_id));
        expected.as_bytes().ct_eq(presented.as_bytes()).into()
    }

    /// The MAC of the fire id, with a domain label so the key can serve other purposes safely.
    fn sign(&self, fire_id: &str) -> [u8; 32] {
        hmac_sha256(self.key.expose_secret(), &[b"cutover-callback\0", fire_id.as_bytes()])
    }
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `message` parts, for keys up to one block (64 bytes).
fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    debug_assert!(key.len() <= BLOCK, "longer keys must be hashed first");
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

/// The URL and token a callback fire's request carries as `{{Callback.url}}` and `{{Callback.token}}`.
#[derive(Clone)]
pub struct CallbackTicket {
    /// Where the third party posts its report.
    pub url: String,
    /// The bearer token it authenticates with; redacted from the actions log.
    pub token: SecretString,
}

impl fmt::Debug for CallbackTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackTicket").field("url", &self.url).field("token", &"[REDACTED]").finish()
    }
}

/// What a third party reports through the callback: `{status, message?, custom_fields?}`.
///
/// Unknown keys are refused: a third party that misspells `custom_fields` learns it at once instead of losing data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackReport {
    /// Success, failure, or progress (the fire keeps waiting).
    pub status: CallbackStatus,
    /// A message for the actions log and, on failure, the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Custom field values to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: BTreeMap<String, FieldValue>,
}

/// The status of a [`CallbackReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    /// The work finished well: the fire succeeds.
    Success,
    /// The work failed: the fire fails with the message as reason.
    Failure,
    /// Still working: the fire keeps waiting, the message is logged.
    Progress,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_for_their_fire_only() {
        let authority = CallbackAuthority::new([7; 32], "https://cutover.example/");
        let ticket = authority.mint("fire 1");
        assert_eq!(ticket.url, "https://cutover.example/api/v1/callbacks/fire+1");
        let token = ticket.token.expose_secret();
        assert_eq!(token.len(), 64);
        assert!(authority.verify("fire 1", token));
        assert!(!authority.verify("fire 2", token));
        assert!(!authority.verify("fire 1", &token[..63]));
        assert!(!CallbackAuthority::new([8; 32], "https://x").verify("fire 1", token));
        assert_eq!(authority.mint("fire 1").token.expose_secret(), token, "minting is stable");
    }

    #[test]
    fn hmac_matches_rfc_4231_vectors() {
        let cases: [(&[u8], &[u8], &str); 2] = [
            (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
        ];
        for (key, data, expected) in cases {
            let (head, tail) = data.split_at(3);
            assert_eq!(hex::encode(hmac_sha256(key, &[head, tail])), expected);
        }
    }

    #[test]
    fn debug_hides_the_token_and_key() {
        let authority = CallbackAuthority::new([7; 32], "https://x");
        let ticket = authority.mint("f");
        let shown = format!("{authority:?} {ticket:?}");
        assert!(!shown.contains(ticket.token.expose_secret()) && shown.contains("[REDACTED]"), "{shown}");
    }

    #[test]
    fn reports_parse_from_the_contract_body() {
        let report: CallbackReport = serde_json::from_str(
            r#"{"status":"success","message":"done","custom_fields":{"Change":"CHG1","Hosts":["a","b"]}}"#,
        )
        .unwrap();
        assert_eq!(report.status, CallbackStatus::Success);
        assert_eq!(report.custom_fields["Hosts"], FieldValue::List(vec!["a".into(), "b".into()]));
        let progress: CallbackReport = serde_json::from_str(r#"{"status":"progress"}"#).unwrap();
        assert_eq!(progress.status, CallbackStatus::Progress);
        assert!(serde_json::from_str::<CallbackReport>(r#"{"status":"maybe"}"#).is_err());
    }
}
