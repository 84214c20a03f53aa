//! A token issuer for bearer-JWT tests: an ES256 key, a JWKS endpoint that counts its
//! hits, and a helper to mint tokens with any claims or header.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::net::TcpListener;

pub const AUDIENCE: &str = "scimgate-api";

pub struct Key {
    pub kid: String,
    pub pem: String,
    pub jwk: Value,
}

impl Key {
    pub fn generate(kid: &str) -> Key {
        let kp = rcgen::KeyPair::generate().expect("keypair");
        let raw = kp.public_key_raw();
        assert_eq!(raw.len(), 65, "uncompressed P-256 point");
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&raw[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&raw[33..65]),
        });
        Key {
            kid: kid.to_owned(),
            pem: kp.serialize_pem(),
            jwk,
        }
    }

    /// The public key as PEM (what an attacker could use as an HMAC secret).
    pub fn public_pem(&self) -> String {
        let kp = rcgen::KeyPair::from_pem(&self.pem).expect("pem");
        kp.public_key_pem()
    }
}

pub struct Issuer {
    pub addr: SocketAddr,
    pub keys: Arc<Mutex<Vec<Value>>>,
    pub hits: Arc<AtomicUsize>,
    pub key: Key,
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Issuer {
    pub async fn start() -> Issuer {
        let key = Key::generate("k1");
        let keys = Arc::new(Mutex::new(vec![key.jwk.clone()]));
        let hits = Arc::new(AtomicUsize::new(0));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (k, h) = (keys.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (k, h) = (k.clone(), h.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req| {
                        h.fetch_add(1, Ordering::SeqCst);
                        let body = json!({ "keys": *k.lock() }).to_string();
                        async move {
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Issuer {
            addr,
            keys,
            hits,
            key,
        }
    }

    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `jwt:` configuration block for a gate that trusts this issuer.
    pub fn config(&self) -> String {
        format!(
            "jwt:\n  issuer: {iss}\n  audiences: [{AUDIENCE}]\n  algorithms: [ES256]\n  jwks_url: {iss}/jwks.json\n  leeway_seconds: 5\n  jwks_min_refresh_seconds: 2\n",
            iss = self.issuer()
        )
    }

    /// Standard valid claims for `user`.
    pub fn claims(&self, user: &str) -> Value {
        json!({
            "iss": self.issuer(), "aud": AUDIENCE, "sub": user,
            "preferred_username": user,
            "iat": now(), "nbf": now() - 10, "exp": now() + 600,
        })
    }

    /// A token signed with this issuer's key.
    pub fn sign(&self, claims: &Value) -> String {
        sign_with(&self.key, claims)
    }

    /// A valid token for `user`.
    pub fn token(&self, user: &str) -> String {
        self.sign(&self.claims(user))
    }
}

pub fn sign_with(key: &Key, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    let enc = EncodingKey::from_ec_pem(key.pem.as_bytes()).expect("ec key");
    encode(&header, claims, &enc).expect("sign")
}

/// A token with a hand-written header and no valid signature scheme (`alg: none`).
pub fn unsigned(claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let c = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{h}.{c}.")
}

/// HS256 with the issuer's *public* key as the secret: the algorithm-confusion attack.
pub fn hs256_with_public_key(key: &Key, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(key.public_pem().as_bytes()),
    )
    .expect("sign")
}
