//! The Standard Webhooks signing secret: `whsec_` followed by the base64 of the key, checked in one place for the
//! parser (literal secrets) and the auth crate (resolved secrets).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::SecretSlice;

/// The prefix of a Standard Webhooks secret.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// The shortest key accepted, in bytes (the specification asks for 24 to 64).
pub const WEBHOOK_SECRET_MIN_BYTES: usize = 24;

/// The longest key accepted, in bytes.
pub const WEBHOOK_SECRET_MAX_BYTES: usize = 64;

/// Decodes a Standard Webhooks secret into its key bytes.
///
/// The error says what is wrong without quoting the value, since the value is a secret.
pub fn decode_webhook_secret(secret: &str) -> Result<SecretSlice<u8>, &'static str> {
    let Some(encoded) = secret.strip_prefix(WEBHOOK_SECRET_PREFIX) else {
        return Err("a Standard Webhooks secret starts with `whsec_` (then the base64 of 24 to 64 bytes)");
    };
    let key = BASE64
        .decode(encoded.trim())
        .map_err(|_| "a Standard Webhooks secret is `whsec_` followed by standard base64 (A-Z, a-z, 0-9, +, /, =)")?;
    if !(WEBHOOK_SECRET_MIN_BYTES..=WEBHOOK_SECRET_MAX_BYTES).contains(&key.len()) {
        return Err("a Standard Webhooks secret holds 24 to 64 bytes (32 to 88 base64 characters after `whsec_`)");
    }
    Ok(SecretSlice::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn decodes_or_explains() {
        let check = |secret: &str, expected: Result<usize, &str>| {
            let got = decode_webhook_secret(secret).map(|key| key.expose_secret().len());
            match (&got, &expected) {
                (Ok(length), Ok(wanted)) => assert_eq!(length, wanted, "{secret}"),
                (Err(message), Err(fragment)) => assert!(message.contains(fragment), "{secret}: {message}"),
                _ => panic!("{secret}: got {got:?}, expected {expected:?}"),
            }
        };
        check("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Ok(24));
        check(&format!("whsec_{}", BASE64.encode([7u8; 64])), Ok(64));
        check("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Err("starts with `whsec_`"));
        check("whsec_not base64!", Err("standard base64"));
        check(&format!("whsec_{}", BASE64.encode([7u8; 23])), Err("24 to 64 bytes"));
        check(&format!("whsec_{}", BASE64.encode([7u8; 65])), Err("24 to 64 bytes"));
    }

    #[test]
    fn errors_never_quote_the_secret() {
        for secret in ["whsec_c2VjcmV0", "nope-hunter2", "whsec_hunter2!!"] {
            let message = decode_webhook_secret(secret).expect_err("invalid");
            assert!(!message.contains(secret) && !message.contains("hunter2"), "{message}");
        }
    }
}
