//! Bearer JWTs through the proxy: a valid token passes; every malformed, misdirected,
//! stale or forged one gets 401 with a `WWW-Authenticate` challenge, before any
//! upstream sees the request.

use std::sync::atomic::Ordering;

use serde_json::json;

use crate::issuer::{hs256_with_public_key, now, sign_with, unsigned, Key};
use crate::proxy_env::{reader, Env};

async fn env() -> Env {
    let env = Env::start("").await;
    reader(&env, "alice").await;
    env
}

async fn status_with(env: &Env, token: &str) -> (u16, Option<String>) {
    let r = env
        .gate
        .http
        .get(format!("http://{}/public/a", env.addr()))
        .header("host", "app.test")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status().as_u16(), challenge)
}

#[track_caller]
fn assert_401(got: (u16, Option<String>), what: &str) {
    assert_eq!(got.0, 401, "{what}");
    let c = got.1.unwrap_or_default();
    assert!(c.starts_with("Bearer"), "{what}: challenge {c:?}");
}

#[tokio::test]
async fn valid_token_passes() {
    let env = env().await;
    let t = env.iss.token("alice");
    assert_eq!(status_with(&env, &t).await.0, 200);
    assert_eq!(env.up.paths(), vec!["/public/a".to_owned()]);
}

#[tokio::test]
async fn no_credentials_get_401_with_a_challenge() {
    let env = env().await;
    let r = env.get("app.test", "/public/a", None).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn expired_token_is_refused() {
    let env = env().await;
    let mut c = env.iss.claims("alice");
    c["exp"] = json!(now() - 120);
    c["iat"] = json!(now() - 600);
    assert_401(status_with(&env, &env.iss.sign(&c)).await, "expired");
}

#[tokio::test]
async fn not_yet_valid_token_is_refused() {
    let env = env().await;
    let mut c = env.iss.claims("alice");
    c["nbf"] = json!(now() + 300);
    assert_401(
        status_with(&env, &env.iss.sign(&c)).await,
        "nbf in the future",
    );
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let env = env().await;
    let mut c = env.iss.claims("alice");
    c["aud"] = json!("some-other-api");
    assert_401(status_with(&env, &env.iss.sign(&c)).await, "wrong aud");
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let env = env().await;
    let mut c = env.iss.claims("alice");
    c["iss"] = json!("https://evil.example");
    assert_401(status_with(&env, &env.iss.sign(&c)).await, "wrong iss");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let env = env().await;
    let t = unsigned(&env.iss.claims("alice"));
    assert_401(status_with(&env, &t).await, "alg none");
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let env = env().await;
    let t = hs256_with_public_key(&env.iss.key, &env.iss.claims("alice"));
    assert_401(status_with(&env, &t).await, "algorithm confusion");
}

#[tokio::test]
async fn unknown_kid_is_refused_and_refetches_are_bounded() {
    let env = env().await;
    // Warm the key cache with a good token.
    assert_eq!(status_with(&env, &env.iss.token("alice")).await.0, 200);
    let before = env.iss.hits.load(Ordering::SeqCst);
    let stranger = Key::generate("k-unknown");
    let t = sign_with(&stranger, &env.iss.claims("alice"));
    for _ in 0..20 {
        assert_401(status_with(&env, &t).await, "unknown kid");
    }
    let fetches = env.iss.hits.load(Ordering::SeqCst) - before;
    assert!(
        fetches <= 1,
        "20 unknown-kid tokens caused {fetches} key-set fetches"
    );
}

#[tokio::test]
async fn rotated_key_is_picked_up_after_the_refresh_interval() {
    let env = env().await;
    assert_eq!(status_with(&env, &env.iss.token("alice")).await.0, 200);
    let next = Key::generate("k2");
    env.iss.keys.lock().push(next.jwk.clone());
    // jwks_min_refresh_seconds is 2 in the test configuration.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let t = sign_with(&next, &env.iss.claims("alice"));
    assert_eq!(status_with(&env, &t).await.0, 200);
}

#[tokio::test]
async fn tampered_signature_is_refused() {
    let env = env().await;
    let t = env.iss.token("alice");
    let (rest, sig) = t.rsplit_once('.').unwrap();
    let mut sig: Vec<u8> = sig.bytes().collect();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    let forged = format!("{rest}.{}", String::from_utf8(sig).unwrap());
    assert_401(status_with(&env, &forged).await, "tampered signature");
    // A changed claim under the original signature, too.
    let (h, _c) = rest.split_once('.').unwrap();
    let other = env.iss.token("bob");
    let c2 = other.split('.').nth(1).unwrap();
    let (_, s) = t.rsplit_once('.').unwrap();
    assert_401(
        status_with(&env, &format!("{h}.{c2}.{s}")).await,
        "swapped claims",
    );
}

#[tokio::test]
async fn garbage_is_refused() {
    let env = env().await;
    for t in ["x", "a.b.c", "....", &"A".repeat(10_000)] {
        assert_401(status_with(&env, t).await, t);
    }
}

#[tokio::test]
async fn valid_token_for_an_unknown_or_inactive_user_gets_403() {
    let env = env().await;
    assert_eq!(status_with(&env, &env.iss.token("nobody")).await.0, 403);
    let id = env.user("carol").await;
    env.deactivate(&id).await;
    assert_eq!(status_with(&env, &env.iss.token("carol")).await.0, 403);
    assert!(env.up.paths().is_empty());
}

#[tokio::test]
async fn groups_in_token_claims_are_ignored() {
    let env = env().await;
    let mut c = env.iss.claims("alice");
    c["groups"] = json!(["admins"]);
    let r = env
        .gate
        .http
        .get(format!("http://{}/private/a", env.addr()))
        .header("host", "app.test")
        .bearer_auth(env.iss.sign(&c))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["allowed_groups"], json!(["admins"]));
}
