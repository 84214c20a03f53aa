//! Bearer JWT verification against a JWKS served by a local HTTP server, with keys
//! generated here (RSA and P-256) and a clock the tests move.

use std::sync::{Arc, OnceLock};

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::*;
use crate::authn::testing::{serve, test_keys, ManualClock, Reply, TestKey, TestServer};

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://idp.test";

fn rsa() -> &'static TestKey {
    &test_keys()[0]
}
fn rsa_next() -> &'static TestKey {
    &test_keys()[1]
}
fn ec() -> &'static TestKey {
    &test_keys()[2]
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": "scimgate",
        "sub": "user-1",
        "preferred_username": "ann",
        "iat": NOW,
        "exp": NOW + 300,
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

/// What the server answers at `/jwks`: a status and a body.
type Answer = Arc<Mutex<(u16, Value)>>;

struct Fixture {
    server: TestServer,
    answer: Answer,
    clock: Arc<ManualClock>,
    verifier: JwtVerifier,
}

impl Fixture {
    async fn new(algorithms: Vec<Algorithm>) -> Self {
        Self::build(algorithms, true).await
    }

    async fn build(algorithms: Vec<Algorithm>, configured_url: bool) -> Self {
        let answer: Answer = Arc::new(Mutex::new((
            200,
            json!({"keys": [rsa().jwk("r1"), ec().jwk("e1")]}),
        )));
        let shared = answer.clone();
        let port = Arc::new(OnceLock::<String>::new());
        let base = port.clone();
        let server = serve(move |path| match path {
            "/jwks" => {
                let (status, body) = shared.lock().clone();
                Reply {
                    status,
                    ..Reply::json(body.to_string())
                }
            }
            "/.well-known/openid-configuration" => Reply::json(
                json!({"jwks_uri": format!("{}/jwks", base.get().unwrap())}).to_string(),
            ),
            _ => Reply::status(404),
        })
        .await;
        let root = server.url("");
        port.set(root.clone()).unwrap();
        let clock = ManualClock::at(NOW);
        let cfg = JwtConfig {
            issuer: if configured_url { ISSUER.into() } else { root },
            audiences: vec!["other".into(), "scimgate".into()],
            algorithms,
            jwks_url: configured_url.then(|| server.url("/jwks")),
            leeway: Duration::from_secs(30),
            jwks_min_refresh: Duration::from_secs(10),
        };
        let verifier = JwtVerifier::with_clock(cfg, HttpClient::new().unwrap(), clock.shared());
        Self {
            server,
            answer,
            clock,
            verifier,
        }
    }

    fn jwks_hits(&self) -> usize {
        self.server.hits("/jwks")
    }

    async fn refused(&self, token: &str) -> AuthnError {
        let err = self.verifier.verify(token).await.unwrap_err();
        // The token's fault, not the key source's nor ours.
        assert!(
            !matches!(
                err,
                AuthnError::JwksUnavailable
                    | AuthnError::IdpUnavailable
                    | AuthnError::Store(_)
                    | AuthnError::Task(_)
            ),
            "{err:?}"
        );
        err
    }
}

fn default_algs() -> Vec<Algorithm> {
    vec![Algorithm::RS256, Algorithm::ES256]
}

#[tokio::test]
async fn valid_rs256_and_es256_tokens_verify() {
    let f = Fixture::new(default_algs()).await;
    let c = f
        .verifier
        .verify(&rsa().sign("r1", &claims()))
        .await
        .unwrap();
    assert_eq!(c.get_str("preferred_username"), Some("ann"));
    assert_eq!(c.exp, NOW + 300);
    let c = f
        .verifier
        .verify(&ec().sign("e1", &claims()))
        .await
        .unwrap();
    assert_eq!(c.subject(), Some("user-1"));
    // The keys were fetched once, lazily.
    assert_eq!(f.jwks_hits(), 1);
    // An `aud` list with one accepted value, and an issuer with a trailing slash.
    let multi = with(claims(), "aud", json!(["x", "scimgate"]));
    let slash = with(multi, "iss", json!(format!("{ISSUER}/")));
    f.verifier.verify(&rsa().sign("r1", &slash)).await.unwrap();
}

#[tokio::test]
async fn expiry_and_not_before_honour_the_leeway() {
    let f = Fixture::new(default_algs()).await;
    let expired = with(claims(), "exp", json!(NOW - 31));
    assert!(matches!(
        f.refused(&rsa().sign("r1", &expired)).await,
        AuthnError::Expired
    ));
    let within_leeway = with(claims(), "exp", json!(NOW - 29));
    f.verifier
        .verify(&rsa().sign("r1", &within_leeway))
        .await
        .unwrap();
    let early = with(claims(), "nbf", json!(NOW + 120));
    assert!(matches!(
        f.refused(&rsa().sign("r1", &early)).await,
        AuthnError::NotYetValid
    ));
    let nearly = with(claims(), "nbf", json!(NOW + 20));
    f.verifier.verify(&rsa().sign("r1", &nearly)).await.unwrap();
    let no_exp = without(claims(), "exp");
    assert!(matches!(
        f.refused(&rsa().sign("r1", &no_exp)).await,
        AuthnError::BadToken(_)
    ));
}

#[tokio::test]
async fn wrong_audience_or_issuer_is_refused() {
    let f = Fixture::new(default_algs()).await;
    let aud = with(claims(), "aud", json!("someone-else"));
    assert!(matches!(
        f.refused(&rsa().sign("r1", &aud)).await,
        AuthnError::WrongAudience
    ));
    let iss = with(claims(), "iss", json!("https://evil.test"));
    assert!(matches!(
        f.refused(&rsa().sign("r1", &iss)).await,
        AuthnError::WrongIssuer
    ));
    for claim in ["aud", "iss"] {
        assert!(matches!(
            f.refused(&rsa().sign("r1", &without(claims(), claim)))
                .await,
            AuthnError::BadToken(_)
        ));
    }
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn alg_none_is_refused_before_any_key_is_fetched() {
    let f = Fixture::new(default_algs()).await;
    let header = json!({"alg": "none", "typ": "JWT", "kid": "r1"});
    let token = format!("{}.{}.", b64(&header), b64(&claims()));
    assert!(matches!(
        f.refused(&token).await,
        AuthnError::AlgorithmNotAllowed
    ));
    let header = json!({"alg": "None", "kid": "r1"});
    let token = format!("{}.{}.", b64(&header), b64(&claims()));
    assert!(matches!(
        f.refused(&token).await,
        AuthnError::AlgorithmNotAllowed
    ));
    assert_eq!(f.jwks_hits(), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("r1".into());
    let secret = EncodingKey::from_secret(rsa().public_pem.as_bytes());
    let token = jsonwebtoken::encode(&header, &claims(), &secret).unwrap();
    let f = Fixture::new(vec![Algorithm::RS256]).await;
    assert!(matches!(
        f.refused(&token).await,
        AuthnError::AlgorithmNotAllowed
    ));
    assert_eq!(f.jwks_hits(), 0);
    // Even if HS256 were (wrongly) configured, no public key ever serves as a secret.
    let f = Fixture::new(vec![Algorithm::RS256, Algorithm::HS256]).await;
    f.verifier
        .verify(&rsa().sign("r1", &claims()))
        .await
        .unwrap();
    assert!(matches!(f.refused(&token).await, AuthnError::BadToken(_)));
}

#[tokio::test]
async fn a_key_must_fit_the_algorithm() {
    let f = Fixture::new(default_algs()).await;
    // Signed with the EC key but naming the RSA key's kid, and the other way round.
    assert!(matches!(
        f.refused(&ec().sign("r1", &claims())).await,
        AuthnError::BadToken(_)
    ));
    assert!(matches!(
        f.refused(&rsa().sign("e1", &claims())).await,
        AuthnError::BadToken(_)
    ));
}

#[tokio::test]
async fn a_tampered_token_is_refused() {
    let f = Fixture::new(default_algs()).await;
    let token = rsa().sign("r1", &claims());
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[1] = b64(&with(claims(), "preferred_username", json!("admin")));
    assert!(matches!(
        f.refused(&parts.join(".")).await,
        AuthnError::BadToken(_)
    ));
    let mut sig = token.clone().into_bytes();
    let last = sig.len() - 5;
    sig[last] = if sig[last] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        f.refused(&String::from_utf8(sig).unwrap()).await,
        AuthnError::BadToken(_)
    ));
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("r1".into());
    let mut raw = serde_json::to_value(&header).unwrap();
    raw["crit"] = json!(["exp"]);
    let body = token.split('.').nth(1).unwrap();
    let crit = format!("{}.{body}.sig", b64(&raw));
    assert!(matches!(
        f.refused(&crit).await,
        AuthnError::BadToken(why) if why.contains("critical")
    ));
    for junk in [
        "",
        "a.b",
        "a.b.c.d",
        "!!.x.y",
        &"x".repeat(MAX_TOKEN_LEN + 1),
    ] {
        assert!(matches!(f.refused(junk).await, AuthnError::BadToken(_)));
    }
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_interval() {
    let f = Fixture::new(default_algs()).await;
    f.verifier
        .verify(&rsa().sign("r1", &claims()))
        .await
        .unwrap();
    assert_eq!(f.jwks_hits(), 1);
    // The first unknown kid after the interval refetches; the next ones within it do not.
    f.clock.advance(Duration::from_secs(11));
    let stranger = rsa_next().sign("nope", &claims());
    assert!(matches!(f.refused(&stranger).await, AuthnError::UnknownKey));
    assert_eq!(f.jwks_hits(), 2);
    for _ in 0..5 {
        assert!(matches!(f.refused(&stranger).await, AuthnError::UnknownKey));
    }
    f.clock.advance(Duration::from_secs(9));
    assert!(matches!(f.refused(&stranger).await, AuthnError::UnknownKey));
    assert_eq!(f.jwks_hits(), 2);
    // Concurrent misses after the interval share one fetch.
    f.clock.advance(Duration::from_secs(2));
    let misses = (0..16).map(|i| {
        let token = rsa_next().sign(&format!("k{i}"), &claims());
        let verifier = &f.verifier;
        async move { verifier.verify(&token).await }
    });
    for r in futures_util::future::join_all(misses).await {
        assert!(matches!(r, Err(AuthnError::UnknownKey)));
    }
    assert_eq!(f.jwks_hits(), 3);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_after_the_interval() {
    let f = Fixture::new(default_algs()).await;
    f.verifier
        .verify(&rsa().sign("r1", &claims()))
        .await
        .unwrap();
    *f.answer.lock() = (200, json!({"keys": [rsa_next().jwk("r2")]}));
    let rotated = rsa_next().sign("r2", &claims());
    // Within the interval since the first fetch: not refetched yet.
    assert!(matches!(f.refused(&rotated).await, AuthnError::UnknownKey));
    f.clock.advance(Duration::from_secs(10));
    let c = f.verifier.verify(&rotated).await.unwrap();
    assert_eq!(c.subject(), Some("user-1"));
    assert_eq!(f.jwks_hits(), 2);
    // The old key is gone from the new set.
    let old = rsa().sign("r1", &with(claims(), "sub", json!("other")));
    f.clock.advance(Duration::from_secs(10));
    assert!(matches!(f.refused(&old).await, AuthnError::UnknownKey));
}

#[tokio::test]
async fn an_unreachable_jwks_is_unavailable_and_retried_at_the_bounded_rate() {
    let f = Fixture::new(default_algs()).await;
    *f.answer.lock() = (500, json!({}));
    let token = rsa().sign("r1", &claims());
    let err = f.verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, AuthnError::JwksUnavailable));
    *f.answer.lock() = (200, json!({"keys": [rsa().jwk("r1")]}));
    assert!(matches!(
        f.verifier.verify(&token).await,
        Err(AuthnError::JwksUnavailable)
    ));
    assert_eq!(f.jwks_hits(), 1);
    f.clock.advance(Duration::from_secs(10));
    f.verifier.verify(&token).await.unwrap();
    assert_eq!(f.jwks_hits(), 2);
}

#[tokio::test]
async fn the_jwks_url_is_discovered_from_the_issuer() {
    let f = Fixture::build(default_algs(), false).await;
    let issuer = f.server.url("");
    let token = rsa().sign("r1", &with(claims(), "iss", json!(issuer)));
    f.verifier.verify(&token).await.unwrap();
    assert_eq!(f.server.hits("/.well-known/openid-configuration"), 1);
    assert_eq!(f.jwks_hits(), 1);
}

#[tokio::test]
async fn a_verified_token_is_cached_until_it_expires() {
    let f = Fixture::new(default_algs()).await;
    let token = rsa().sign("r1", &claims());
    let first = f.verifier.verify(&token).await.unwrap();
    assert_eq!(f.verifier.cached(), 1);
    // Keys rotate away and the interval passes: the cached token still verifies
    // without a signature check or a fetch.
    *f.answer.lock() = (200, json!({"keys": []}));
    f.clock.advance(Duration::from_secs(60));
    let again = f.verifier.verify(&token).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(f.jwks_hits(), 1);
    // Past exp + leeway the cached entry is refused and dropped.
    f.clock.advance(Duration::from_secs(300 - 60 + 30));
    assert!(matches!(f.refused(&token).await, AuthnError::Expired));
    assert_eq!(f.verifier.cached(), 0);
}

#[test]
fn reads_the_bearer_token() {
    let mut h = http::HeaderMap::new();
    assert_eq!(bearer_token(&h), None);
    h.insert(AUTHORIZATION, "Bearer abc.def.ghi".parse().unwrap());
    assert_eq!(bearer_token(&h), Some("abc.def.ghi"));
    h.insert(AUTHORIZATION, "bearer  xyz ".parse().unwrap());
    assert_eq!(bearer_token(&h), Some("xyz"));
    for other in ["Basic dXNlcjpwdw==", "Bearer", "Bearer  ", "Token dbtc_x"] {
        h.insert(AUTHORIZATION, other.parse().unwrap());
        assert_eq!(bearer_token(&h), None, "{other}");
    }
}
