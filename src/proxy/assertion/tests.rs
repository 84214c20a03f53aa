//! The assertion verifies with a stock JWT library against the published JWKS, expires
//! within 120 s, and the key survives a restart.

use std::sync::atomic::{AtomicI64, Ordering};

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;
use time::OffsetDateTime;

use super::*;
use crate::clock::Clock;

/// A clock tests move by hand (Unix seconds).
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.0.load(Ordering::SeqCst))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

fn claims() -> AssertionClaims {
    AssertionClaims {
        sub: "2819c223-7f76-453a-919d-413861904646".into(),
        user_name: "alice@example.com".into(),
        email: Some("alice@example.com".into()),
        groups: vec!["finance".into(), "data, platform".into()],
        seq: 42,
    }
}

fn decoding_key(signer: &AssertionSigner) -> DecodingKey {
    let jwks: Value = serde_json::from_str(signer.jwks_json()).unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], signer.kid());
    DecodingKey::from_ec_components(key["x"].as_str().unwrap(), key["y"].as_str().unwrap()).unwrap()
}

fn validation(audience: &str, issuer: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss", "sub"]);
    validation.validate_nbf = true;
    validation
}

#[test]
fn signed_assertions_verify_against_the_jwks() {
    let dir = tempfile::tempdir().unwrap();
    let signer =
        AssertionSigner::load_or_create(&dir.path().join("key.pem"), "https://gate".into())
            .unwrap();
    let token = signer.sign("finance-docs", &claims()).unwrap();

    let header = decode_header(&*token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some(signer.kid()));

    let data = decode::<Value>(
        &*token,
        &decoding_key(&signer),
        &validation("finance-docs", "https://gate"),
    )
    .unwrap();
    let c = data.claims;
    assert_eq!(c["sub"], "2819c223-7f76-453a-919d-413861904646");
    assert_eq!(c["user_name"], "alice@example.com");
    assert_eq!(c["email"], "alice@example.com");
    assert_eq!(
        c["groups"],
        serde_json::json!(["finance", "data, platform"])
    );
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert!(exp > iat && exp - iat <= 120, "iat {iat} exp {exp}");
    let now = OffsetDateTime::now_utc().unix_timestamp();
    assert!(exp <= now + 120);
}

#[test]
fn another_audience_or_issuer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let signer =
        AssertionSigner::load_or_create(&dir.path().join("key.pem"), "https://gate".into())
            .unwrap();
    let token = signer.sign("finance-docs", &claims()).unwrap();
    let key = decoding_key(&signer);
    assert!(decode::<Value>(&*token, &key, &validation("other-route", "https://gate")).is_err());
    assert!(decode::<Value>(&*token, &key, &validation("finance-docs", "https://evil")).is_err());
}

#[test]
fn a_persisted_key_reloads_with_the_same_kid_and_owner_only_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("key.pem");
    let first = AssertionSigner::load_or_create(&path, "iss".into()).unwrap();
    let second = AssertionSigner::load_or_create(&path, "iss".into()).unwrap();
    assert_eq!(first.kid(), second.kid());
    assert_eq!(first.jwks_json(), second.jwks_json());
    // A token from the first verifies with the second's JWKS.
    let token = first.sign("r", &claims()).unwrap();
    assert!(decode::<Value>(&*token, &decoding_key(&second), &validation("r", "iss")).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let other =
        AssertionSigner::load_or_create(&dir.path().join("other.pem"), "iss".into()).unwrap();
    assert_ne!(other.kid(), first.kid());
}

#[test]
fn a_file_that_is_not_a_p256_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::write(&path, "not a key").unwrap();
    let error = AssertionSigner::load_or_create(&path, "iss".into()).unwrap_err();
    assert!(matches!(error, ProxyError::KeyInvalid { .. }), "{error:?}");
}

#[test]
fn tokens_are_reused_while_more_than_60_seconds_remain() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock(AtomicI64::new(1_700_000_000)));
    let signer = AssertionSigner::load_or_create(&dir.path().join("k.pem"), "iss".into())
        .unwrap()
        .with_clock(clock.clone());
    let first = signer.sign("r", &claims()).unwrap();
    clock.0.fetch_add(59, Ordering::SeqCst);
    assert_eq!(signer.sign("r", &claims()).unwrap(), first);

    // Any change in what the token says gives a new one.
    let mut moved = claims();
    moved.seq += 1;
    assert_ne!(signer.sign("r", &moved).unwrap(), first);
    let mut regrouped = claims();
    regrouped.groups.pop();
    assert_ne!(signer.sign("r", &regrouped).unwrap(), first);
    assert_ne!(signer.sign("other", &claims()).unwrap(), first);

    // At 60 s left it is renewed.
    clock.0.fetch_add(1, Ordering::SeqCst);
    let renewed = signer.sign("r", &claims()).unwrap();
    assert_ne!(renewed, first);
    let mut v = validation("r", "iss");
    v.validate_exp = false;
    v.validate_nbf = false;
    let c = decode::<Value>(&*renewed, &decoding_key(&signer), &v)
        .unwrap()
        .claims;
    assert_eq!(c["iat"], 1_700_000_060);
    assert_eq!(c["exp"], 1_700_000_180);
}
