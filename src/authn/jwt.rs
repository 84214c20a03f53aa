//! Bearer JWTs from scripts and CI, verified against the IdP's published keys.
//!
//! Order of checks, cheapest and safest first: the token's size; a cache hit (by the
//! SHA-256 of the token text, until `exp`; a hit skips the signature check but `exp`
//! is checked again against now); the header's `alg`, which must be one of the pinned
//! `jwt.algorithms` (so `alg: none` and HS256 "signed" with the public key are refused
//! before any key is touched); the key, chosen by `kid` and required to fit `alg`; the
//! signature with a `Validation` for exactly that algorithm, `iss`, `aud` ∈ audiences,
//! and `exp`/`iss`/`aud` required; then `exp` and `nbf` against the injected clock with
//! the configured leeway. Groups and `active` are not cached here: the caller reads the
//! directory on every request, so a cached token never outlives a deprovisioning.

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dashmap::DashMap;
use foldhash::fast::RandomState;
use http::header::AUTHORIZATION;
use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::jwks::Jwks;
use super::{AuthnError, Claims};
use crate::clock::{self, SharedClock};
use crate::config::JwtConfig;
use crate::outbound::HttpClient;

/// Longest token accepted (bytes): real ones are a few KiB.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Most verified tokens kept in the cache.
pub const CACHE_CAP: usize = 100_000;

/// Verifies bearer JWTs.
pub struct JwtVerifier {
    cfg: JwtConfig,
    jwks: Jwks,
    /// One `Validation` per pinned algorithm (jsonwebtoken wants every algorithm of a
    /// `Validation` to be of the key's family, so each holds exactly one).
    validations: Vec<(Algorithm, Validation)>,
    cache: DashMap<[u8; 32], Arc<Claims>, RandomState>,
    /// When a full cache was last swept of expired entries (Unix seconds).
    last_sweep: AtomicI64,
    clock: SharedClock,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    /// Extensions the token says must be understood: we understand none (RFC 7515 §4.1.11).
    crit: Option<Value>,
}

impl JwtVerifier {
    pub fn new(cfg: JwtConfig, http: HttpClient) -> Self {
        Self::with_clock(cfg, http, clock::system())
    }

    /// A verifier reading time from `clock` (for `exp`, `nbf` and the JWKS refresh rate).
    pub fn with_clock(cfg: JwtConfig, http: HttpClient, clock: SharedClock) -> Self {
        let issuers = [cfg.issuer.clone(), format!("{}/", cfg.issuer)];
        let validations = cfg
            .algorithms
            .iter()
            .map(|&alg| {
                let mut v = Validation::new(alg);
                v.set_issuer(&issuers);
                v.set_audience(&cfg.audiences);
                v.required_spec_claims = HashSet::from(["exp", "iss", "aud"].map(String::from));
                // Times are checked below against the injected clock.
                v.validate_exp = false;
                v.validate_nbf = false;
                (alg, v)
            })
            .collect();
        let jwks = Jwks::new(
            http,
            cfg.jwks_url.clone(),
            cfg.issuer.clone(),
            cfg.jwks_min_refresh,
            clock.clone(),
        );
        Self {
            cfg,
            jwks,
            validations,
            cache: DashMap::with_hasher(RandomState::default()),
            last_sweep: AtomicI64::new(i64::MIN),
            clock,
        }
    }

    /// The verified claims of `token` (the text after `Bearer `).
    pub async fn verify(&self, token: &str) -> Result<Arc<Claims>, AuthnError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthnError::BadToken("too long"));
        }
        let now = self.clock.now().unix_timestamp();
        let leeway = i64::try_from(self.cfg.leeway.as_secs()).unwrap_or(i64::MAX);
        let hash = crate::record::digest::sha256(token.as_bytes());
        if let Some(hit) = self.cache.get(&hash).map(|c| c.clone()) {
            if hit.exp.saturating_add(leeway) > now {
                return Ok(hit);
            }
            self.cache.remove(&hash);
            return Err(AuthnError::Expired);
        }
        let header = header(token)?;
        if header.crit.is_some() {
            return Err(AuthnError::BadToken(
                "critical header extensions are not supported",
            ));
        }
        let (alg, validation) = self
            .validations
            .iter()
            .find(|(a, _)| algorithm_name(*a) == header.alg)
            .ok_or(AuthnError::AlgorithmNotAllowed)?;
        let key = self.jwks.key_for(header.kid.as_deref(), *alg).await?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, validation)
            .map_err(|e| map_error(e.kind()))?;
        let claims = Claims::from_map(data.claims)?;
        if claims.exp.saturating_add(leeway) <= now {
            return Err(AuthnError::Expired);
        }
        if claims
            .not_before()?
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(AuthnError::NotYetValid);
        }
        let claims = Arc::new(claims);
        self.remember(hash, claims.clone(), now, leeway);
        Ok(claims)
    }

    /// How many verified tokens are cached.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Caches a verified token. A full cache is swept of expired entries at most once a
    /// second; while it stays full, new tokens are simply not cached.
    fn remember(&self, hash: [u8; 32], claims: Arc<Claims>, now: i64, leeway: i64) {
        if self.cache.len() >= CACHE_CAP {
            let last = self.last_sweep.load(Ordering::Relaxed);
            if now > last
                && self
                    .last_sweep
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                self.cache.retain(|_, c| c.exp.saturating_add(leeway) > now);
            }
            if self.cache.len() >= CACHE_CAP {
                return;
            }
        }
        self.cache.insert(hash, claims);
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The JOSE header, read without trusting anything in it yet.
fn header(token: &str) -> Result<RawHeader, AuthnError> {
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthnError::BadToken("not a signed JWT"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| AuthnError::BadToken("malformed header"))?;
    serde_json::from_slice(&bytes).map_err(|_| AuthnError::BadToken("malformed header"))
}

/// The JOSE name of an algorithm (`RS256`, ...).
fn algorithm_name(alg: Algorithm) -> &'static str {
    use Algorithm::*;
    match alg {
        HS256 => "HS256",
        HS384 => "HS384",
        HS512 => "HS512",
        ES256 => "ES256",
        ES384 => "ES384",
        RS256 => "RS256",
        RS384 => "RS384",
        RS512 => "RS512",
        PS256 => "PS256",
        PS384 => "PS384",
        PS512 => "PS512",
        EdDSA => "EdDSA",
    }
}

fn map_error(kind: &ErrorKind) -> AuthnError {
    match kind {
        ErrorKind::InvalidSignature => AuthnError::BadToken("the signature does not verify"),
        ErrorKind::InvalidIssuer => AuthnError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthnError::WrongAudience,
        ErrorKind::ExpiredSignature => AuthnError::Expired,
        ErrorKind::ImmatureSignature => AuthnError::NotYetValid,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthnError::AlgorithmNotAllowed
        }
        ErrorKind::MissingRequiredClaim(c) => match c.as_str() {
            "iss" => AuthnError::BadToken("no iss claim"),
            "aud" => AuthnError::BadToken("no aud claim"),
            _ => AuthnError::BadToken("no exp claim"),
        },
        ErrorKind::InvalidClaimFormat(_) => AuthnError::BadToken("a claim has the wrong type"),
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat => AuthnError::BadToken("the signing key is not usable"),
        _ => AuthnError::BadToken("malformed"),
    }
}
