//! The cipher: round trips, tampering, wrong key, wrong associated data, key rotation and key configuration; and the
//! sealed credential records built on it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cutover_integrations_auth::{
    AuthError, Cipher, CredentialKey, KEY_ID_LEN, Key, KeyId, KeyRing, NONCE_LEN, OAuthToken, StoredCredential, TAG_LEN,
};
use proptest::prelude::*;
use secrecy::{ExposeSecret, SecretString};

fn key(byte: u8) -> Key {
    Key::from_bytes([byte; 32])
}

fn key_base64(byte: u8) -> String {
    STANDARD.encode([byte; 32])
}

fn cipher(id: u32, byte: u8) -> Cipher {
    Cipher::new(KeyRing::new(KeyId(id), key(byte)))
}

proptest! {
    #[test]
    fn sealing_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..512),
                           owner in proptest::collection::vec(any::<u8>(), 0..64)) {
        let cipher = cipher(7, 1);
        let sealed = cipher.encrypt(&plaintext, &owner).expect("encrypt");
        prop_assert_eq!(sealed.len(), KEY_ID_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        prop_assert_eq!(&sealed[..KEY_ID_LEN], &7u32.to_be_bytes()[..]);
        let opened = cipher.decrypt(&sealed, &owner).expect("decrypt");
        prop_assert_eq!(opened.expose_secret(), &plaintext[..]);
    }

    #[test]
    fn any_flipped_bit_is_detected(plaintext in proptest::collection::vec(any::<u8>(), 0..128),
                                   position in any::<prop::sample::Index>(),
                                   bit in 0u8..8) {
        let cipher = cipher(7, 1);
        let mut sealed = cipher.encrypt(&plaintext, b"owner").expect("encrypt");
        let position = position.index(sealed.len());
        sealed[position] ^= 1 << bit;
        match cipher.decrypt(&sealed, b"owner") {
            Err(AuthError::UnknownKeyId { .. }) => prop_assert!(position < KEY_ID_LEN),
            Err(AuthError::DecryptionFailed { key_id: 7 }) => prop_assert!(position >= KEY_ID_LEN),
            other => prop_assert!(false, "tampering at byte {} went unnoticed: {:?}", position, other.map(|_| ())),
        }
    }

    #[test]
    fn another_owner_cannot_open(owner in proptest::collection::vec(any::<u8>(), 0..32),
                                 other in proptest::collection::vec(any::<u8>(), 0..32)) {
        prop_assume!(owner != other);
        let cipher = cipher(1, 1);
        let sealed = cipher.encrypt(b"refresh-token", &owner).expect("encrypt");
        let refused = matches!(cipher.decrypt(&sealed, &other), Err(AuthError::DecryptionFailed { key_id: 1 }));
        prop_assert!(refused, "another owner opened the value");
    }

    #[test]
    fn storage_keys_round_trip(action in ".*", runbook in ".*", task in ".*", user in ".*") {
        for key in [
            CredentialKey::FunctionalUser { action: action.clone() },
            CredentialKey::TaskUser { action: action.clone(), runbook: runbook.clone(), task: task.clone(), user: user.clone() },
        ] {
            let text = key.storage_key();
            prop_assert_eq!(text.matches('/').count(), if matches!(key, CredentialKey::FunctionalUser { .. }) { 1 } else { 4 });
            prop_assert_eq!(CredentialKey::from_storage_key(&text), Some(key));
        }
    }
}

#[test]
fn the_same_plaintext_seals_differently_each_time() {
    let cipher = cipher(1, 1);
    let first = cipher.encrypt(b"secret", b"owner").expect("encrypt");
    let second = cipher.encrypt(b"secret", b"owner").expect("encrypt");
    assert_ne!(first[KEY_ID_LEN..KEY_ID_LEN + NONCE_LEN], second[KEY_ID_LEN..KEY_ID_LEN + NONCE_LEN]);
    assert_ne!(first, second);
}

#[test]
fn a_different_key_with_the_same_id_cannot_open() {
    let sealed = cipher(1, 1).encrypt(b"secret", b"owner").expect("encrypt");
    let error = cipher(1, 2).decrypt(&sealed, b"owner").map(|_| ()).expect_err("wrong key");
    assert!(matches!(error, AuthError::DecryptionFailed { key_id: 1 }), "{error:?}");
}

#[test]
fn rotation_opens_old_values_and_reseals_with_the_current_key() {
    let old = cipher(1, 1);
    let sealed = old.encrypt(b"secret", b"owner").expect("encrypt");
    let rotated = Cipher::new(KeyRing::parse(&format!("2:{}, 1:{}", key_base64(2), key_base64(1))).expect("ring"));
    assert_eq!(rotated.current_key_id(), KeyId(2));
    assert!(rotated.needs_rotation(&sealed).expect("key id"));
    assert_eq!(rotated.decrypt(&sealed, b"owner").expect("old value").expose_secret(), b"secret");

    let resealed = rotated.reencrypt(&sealed, b"owner").expect("reencrypt");
    assert!(!rotated.needs_rotation(&resealed).expect("key id"));
    assert_eq!(&resealed[..KEY_ID_LEN], &2u32.to_be_bytes());
    let fresh = rotated.encrypt(b"new", b"owner").expect("encrypt");
    assert_eq!(&fresh[..KEY_ID_LEN], &2u32.to_be_bytes());

    let retired = cipher(2, 2);
    assert_eq!(retired.decrypt(&resealed, b"owner").expect("new key").expose_secret(), b"secret");
    let error = retired.decrypt(&sealed, b"owner").map(|_| ()).expect_err("key 1 is gone");
    assert!(matches!(error, AuthError::UnknownKeyId { key_id: 1 }), "{error:?}");
}

#[test]
fn malformed_sealed_data_is_reported() {
    let cipher = cipher(1, 1);
    for length in [0, 3, KEY_ID_LEN + NONCE_LEN + TAG_LEN - 1] {
        let mut sealed = vec![0u8; length];
        if length >= KEY_ID_LEN {
            sealed[..KEY_ID_LEN].copy_from_slice(&1u32.to_be_bytes());
        }
        let error = cipher.decrypt(&sealed, b"owner").map(|_| ()).expect_err("too short");
        assert!(matches!(error, AuthError::MalformedCiphertext { .. }), "{length} bytes: {error:?}");
    }
}

#[test]
fn key_configuration() {
    let key_a = key_base64(0xA1);
    let key_b = key_base64(0xB2);
    let short = STANDARD.encode([7u8; 16]);
    struct Case {
        config: String,
        expected: Result<(u32, Vec<u32>), &'static str>,
    }
    let cases = [
        Case { config: key_a.clone(), expected: Ok((1, vec![1])) },
        Case { config: format!("  {key_a}\n"), expected: Ok((1, vec![1])) },
        Case { config: format!("5:{key_a}"), expected: Ok((5, vec![5])) },
        Case { config: format!("3:{key_b},2:{key_a}"), expected: Ok((3, vec![2, 3])) },
        Case { config: String::new(), expected: Err("no key given") },
        Case { config: "not base64!".to_owned(), expected: Err("standard base64") },
        Case { config: short.clone(), expected: Err("must be 32 bytes, found 16") },
        Case { config: format!("x:{key_a}"), expected: Err("key id `x`") },
        Case { config: format!("2:{key_a},2:{key_b}"), expected: Err("key id 2 appears twice") },
        Case { config: format!("2:{key_a},{key_b}"), expected: Err("each entry must be `ID:BASE64`") },
    ];
    for case in cases {
        match (KeyRing::parse(&case.config), case.expected) {
            (Ok(ring), Ok((current, ids))) => {
                assert_eq!(ring.current_key_id(), KeyId(current), "{}", case.config);
                assert_eq!(ring.key_ids().map(|id| id.0).collect::<Vec<_>>(), ids, "{}", case.config);
                let ring_debug = format!("{ring:?}");
                let debug = format!("{ring_debug} {:?}", Cipher::new(ring));
                assert!(!debug.contains(&key_a) && !debug.contains(&key_b), "{debug}");
            }
            (Err(error), Err(expected)) => {
                let message = error.to_string();
                assert!(matches!(error, AuthError::InvalidKey { .. }), "{}: {error:?}", case.config);
                assert!(message.contains(expected), "{}: `{message}` should say `{expected}`", case.config);
                assert!(!message.contains(&key_a) && !message.contains(&key_b), "the error quotes a key: {message}");
            }
            (outcome, expected) => panic!("{}: got {outcome:?}, expected {expected:?}", case.config),
        }
    }
}

#[test]
fn a_generated_key_survives_its_configuration_form() {
    let generated = Key::generate();
    assert_eq!(format!("{generated:?}"), "[REDACTED]");
    let encoded: SecretString = generated.expose_base64();
    assert_eq!(STANDARD.decode(encoded.expose_secret()).expect("base64").len(), 32);
    let sealed = Cipher::new(KeyRing::new(KeyId(1), generated)).encrypt(b"secret", b"owner").expect("encrypt");
    let reread = Cipher::new(KeyRing::parse(encoded.expose_secret()).expect("ring"));
    assert_eq!(reread.decrypt(&sealed, b"owner").expect("decrypt").expose_secret(), b"secret");
    assert_ne!(Key::generate().expose_base64().expose_secret(), encoded.expose_secret(), "keys are random");
}

#[test]
fn a_sealed_credential_is_bound_to_its_key_and_hides_its_tokens() {
    let cipher = cipher(1, 1);
    let now = "2025-03-01T09:00:00Z".parse().expect("timestamp");
    let credential = StoredCredential::Active(OAuthToken {
        access_token: SecretString::from("at-sealed-Qw1"),
        token_type: "bearer".to_owned(),
        refresh_token: Some(SecretString::from("rt-sealed-Er2")),
        expires_at: None,
        scopes: vec!["chat:write".to_owned()],
        obtained_at: now,
        authorized: None,
    });
    let owner = CredentialKey::TaskUser { action: "a".into(), runbook: "r".into(), task: "t".into(), user: "u".into() };
    let other = CredentialKey::TaskUser { action: "a".into(), runbook: "r".into(), task: "t".into(), user: "v".into() };
    let sealed = credential.seal(&cipher, &owner).expect("seal");
    for secret in ["at-sealed-Qw1", "rt-sealed-Er2"] {
        assert!(!sealed.windows(secret.len()).any(|window| window == secret.as_bytes()), "{secret} in clear");
        assert!(!format!("{credential:?}").contains(secret), "{secret} in Debug");
    }
    match StoredCredential::open(&cipher, &owner, &sealed).expect("open") {
        StoredCredential::Active(token) => {
            assert_eq!(token.access_token.expose_secret(), "at-sealed-Qw1");
            assert_eq!(
                token.refresh_token.as_ref().map(|s| s.expose_secret().to_owned()).as_deref(),
                Some("rt-sealed-Er2")
            );
            assert_eq!((token.expires_at, token.obtained_at), (None, now));
        }
        other => panic!("expected an active token, got {other:?}"),
    }
    let error = StoredCredential::open(&cipher, &other, &sealed).map(|_| ()).expect_err("another owner");
    assert!(matches!(error, AuthError::DecryptionFailed { .. }), "{error:?}");
}
