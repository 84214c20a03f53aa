//! The IdP's signing keys (JWKS) for bearer JWTs: fetched lazily, cached, refreshed on
//! an unknown `kid` at a bounded rate.
//!
//! The current key set sits behind an `ArcSwap`, so verification reads it without a
//! lock. A miss (unknown `kid`, or no keys yet because the IdP was down at start) asks
//! for a refresh; refreshes are serialised and at most one fetch starts per
//! `min_refresh` (by the injected clock), so a flood of tokens with made-up `kid`s
//! costs the IdP one request per interval, and misses that arrive together share one
//! fetch. A failed fetch keeps the old keys and is retried on a later miss.
//!
//! Keys are only ever used for the algorithms they fit: RSA keys for RS*/PS*, P-256
//! for ES256, P-384 for ES384, Ed25519 for EdDSA, and a key's own `alg` when it names
//! one. Symmetric (`oct`) keys and encryption keys are ignored.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::sync::{Mutex, OnceCell};

use super::AuthnError;
use crate::clock::{to_millis, SharedClock};
use crate::outbound::{error_chain, HttpClient, HttpError};

/// A public key ready for verification.
pub(crate) struct VerifyKey {
    pub kid: Option<String>,
    /// The JWK's own `alg`, when it names one.
    pub alg: Option<Algorithm>,
    pub kind: KeyKind,
    pub key: DecodingKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    /// The kind of key an algorithm needs (`None`: not one we take from a JWKS).
    fn for_alg(alg: Algorithm) -> Option<Self> {
        use Algorithm::*;
        match alg {
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Some(KeyKind::Rsa),
            ES256 => Some(KeyKind::P256),
            ES384 => Some(KeyKind::P384),
            EdDSA => Some(KeyKind::Ed25519),
            HS256 | HS384 | HS512 => None,
        }
    }
}

/// What a key-set lookup found.
pub(crate) enum Lookup {
    Found(Arc<VerifyKey>),
    /// No key with that `kid` (or, without a `kid`, no key fits the algorithm).
    Missing,
    /// The `kid` names a key of another type or algorithm, or there is no `kid` and
    /// several keys fit.
    Mismatch(&'static str),
}

/// One fetched key set; `generation` counts successful fetches (0: none yet).
#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<Arc<VerifyKey>>,
    generation: u64,
}

impl KeySet {
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        let Some(kind) = KeyKind::for_alg(alg) else {
            return Lookup::Mismatch("the algorithm takes no public key");
        };
        let fits = |k: &VerifyKey| k.kind == kind && k.alg.is_none_or(|a| a == alg);
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
                let Some(first) = named.next() else {
                    return Lookup::Missing;
                };
                std::iter::once(first)
                    .chain(named)
                    .find(|k| fits(k))
                    .map(|k| Lookup::Found(k.clone()))
                    .unwrap_or(Lookup::Mismatch(
                        "the key named by kid does not fit the algorithm",
                    ))
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| fits(k));
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => Lookup::Found(k.clone()),
                    (None, _) => Lookup::Missing,
                    (Some(_), Some(_)) => Lookup::Mismatch("no kid, and several keys fit"),
                }
            }
        }
    }

    /// Parses a JWKS document, keeping the keys usable for signatures.
    pub(crate) fn parse(doc: &serde_json::Value, generation: u64) -> Self {
        let keys = doc
            .get("keys")
            .and_then(|k| k.as_array())
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|v| serde_json::from_value::<Jwk>(v.clone()).ok())
            .filter_map(|jwk| verify_key(&jwk))
            .map(Arc::new)
            .collect();
        Self { keys, generation }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

fn verify_key(jwk: &Jwk) -> Option<VerifyKey> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => KeyKind::P256,
            EllipticCurve::P384 => KeyKind::P384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(p) => match p.curve {
            EllipticCurve::Ed25519 => KeyKind::Ed25519,
            _ => return None,
        },
        AlgorithmParameters::OctetKey(_) => return None,
    };
    // A JWK `alg` we cannot read as a signature algorithm (e.g. RSA-OAEP) rules the key out.
    let alg = match &jwk.common.key_algorithm {
        None => None,
        Some(ka) => Some(ka.to_string().parse::<Algorithm>().ok()?),
    };
    if alg.is_some_and(|a| KeyKind::for_alg(a) != Some(kind)) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyKey {
        kid: jwk.common.key_id.clone(),
        alg,
        kind,
        key,
    })
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

/// Where keys come from, and the cache of them.
pub(crate) struct Jwks {
    http: HttpClient,
    /// `jwt.jwks_url`, when configured.
    url: Option<String>,
    issuer: String,
    /// The `jwks_uri` found by discovery, once found.
    discovered: OnceCell<String>,
    current: ArcSwap<KeySet>,
    /// When the last fetch started (Unix ms); also serialises refreshes.
    last_fetch: Mutex<Option<i64>>,
    min_refresh: Duration,
    clock: SharedClock,
}

impl Jwks {
    pub(crate) fn new(
        http: HttpClient,
        url: Option<String>,
        issuer: String,
        min_refresh: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            http,
            url,
            issuer,
            discovered: OnceCell::new(),
            current: ArcSwap::from_pointee(KeySet::default()),
            last_fetch: Mutex::new(None),
            min_refresh,
            clock,
        }
    }

    /// The key for a token's `kid` and `alg`, refreshing once (rate permitting) on a miss.
    pub(crate) async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<VerifyKey>, AuthnError> {
        let seen = self.current.load_full();
        match seen.find(kid, alg) {
            Lookup::Found(k) => return Ok(k),
            Lookup::Mismatch(why) => return Err(AuthnError::BadToken(why)),
            Lookup::Missing => {}
        }
        let now = self.refresh(seen.generation).await;
        match now.find(kid, alg) {
            Lookup::Found(k) => Ok(k),
            Lookup::Mismatch(why) => Err(AuthnError::BadToken(why)),
            Lookup::Missing if now.generation == 0 => Err(AuthnError::JwksUnavailable),
            Lookup::Missing => Err(AuthnError::UnknownKey),
        }
    }

    /// A key set newer than generation `seen` if one can be had now: another task's
    /// fresh fetch, or our own when the interval since the last one has passed.
    async fn refresh(&self, seen: u64) -> Arc<KeySet> {
        let mut last = self.last_fetch.lock().await;
        let current = self.current.load_full();
        if current.generation != seen {
            return current;
        }
        let now = to_millis(self.clock.now());
        let interval = i64::try_from(self.min_refresh.as_millis()).unwrap_or(i64::MAX);
        if last.is_some_and(|t| now.saturating_sub(t) < interval) {
            return current;
        }
        *last = Some(now);
        match self.fetch().await {
            Ok(doc) => {
                let set = Arc::new(KeySet::parse(&doc, current.generation + 1));
                tracing::info!(keys = set.len(), "fetched the IdP's signing keys");
                self.current.store(set.clone());
                set
            }
            Err(error) => {
                let why = error_chain(&error);
                tracing::warn!(url = self.url.as_deref().unwrap_or("(discovered)"), error = %why, "cannot fetch the IdP's signing keys: {why}");
                current
            }
        }
    }

    async fn fetch(&self) -> Result<serde_json::Value, HttpError> {
        let url = match &self.url {
            Some(url) => url.as_str(),
            None => self
                .discovered
                .get_or_try_init(|| async {
                    let d: Discovery = self
                        .http
                        .get_json(&format!("{}/.well-known/openid-configuration", self.issuer))
                        .await?;
                    Ok::<_, HttpError>(d.jwks_uri)
                })
                .await?
                .as_str(),
        };
        self.http.get_json(url).await
    }
}
