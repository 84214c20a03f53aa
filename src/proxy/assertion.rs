//! The signed identity assertion: a short-lived ES256 JWT for upstreams that verify.
//!
//! One P-256 key per installation, kept as PKCS#8 PEM (created with mode 0600 on first
//! start). Tokens live at most 120 s. Signing costs tens of microseconds, more than the
//! rest of a proxied request, so a token is reused for the same route, user, directory
//! sequence and claims while more than 60 s of its life remain; any directory change
//! (new `seq`) or claim change gives a fresh token. The JWKS upstreams fetch is built
//! once; its `kid` is the RFC 7638 thumbprint of the public key.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use dashmap::DashMap;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::ProxyError;
use crate::clock::{self, SharedClock};

/// Longest life of an assertion, in seconds.
const LIFETIME_SECS: i64 = 120;
/// A cached assertion is reused only while it has more than this left, in seconds.
const MIN_REMAINING_SECS: i64 = 60;
/// Cached tokens kept before expired ones are swept.
const MAX_CACHED: usize = 16_384;

/// What the assertion says about the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionClaims {
    /// The SCIM `id`.
    pub sub: String,
    pub user_name: String,
    pub email: Option<String>,
    /// Effective group display names.
    pub groups: Vec<String>,
    /// The directory sequence the claims were read at.
    pub seq: u64,
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

#[derive(Serialize)]
struct Payload<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    user_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    groups: &'a [String],
}

struct Cached {
    token: Arc<str>,
    exp: i64,
}

/// Signs assertions with the installation's key and serves its JWKS.
pub struct AssertionSigner {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    issuer: String,
    kid: String,
    /// The base64url JWT header, the same for every token.
    header_b64: String,
    jwks: String,
    clock: SharedClock,
    cache: DashMap<[u8; 32], Cached>,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl AssertionSigner {
    /// Loads the key from `key_file`, creating it (mode 0600) when the file is absent.
    pub fn load_or_create(key_file: &Path, issuer: String) -> Result<Self, ProxyError> {
        let pem = match std::fs::read(key_file) {
            Ok(pem) => pem,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(key_file)?,
            Err(source) => {
                return Err(ProxyError::KeyFile {
                    path: key_file.to_owned(),
                    source,
                })
            }
        };
        let invalid = || ProxyError::KeyInvalid {
            path: key_file.to_owned(),
        };
        let der = PrivatePkcs8KeyDer::from_pem_slice(&pem).map_err(|_| invalid())?;
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.secret_pkcs8_der())
                .map_err(|_| invalid())?;
        Self::from_key(key, issuer)
    }

    fn from_key(key: EcdsaKeyPair, issuer: String) -> Result<Self, ProxyError> {
        // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
        let point = key.public_key().as_ref();
        if point.len() != 65 || point[0] != 4 {
            return Err(ProxyError::Signing);
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
        let jwks = serde_json::json!({ "keys": [{
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "kid": kid, "use": "sig", "alg": "ES256",
        }]})
        .to_string();
        let header = serde_json::to_vec(&Header {
            alg: "ES256",
            typ: "JWT",
            kid: &kid,
        })
        .map_err(|_| ProxyError::Signing)?;
        Ok(Self {
            key,
            rng: SystemRandom::new(),
            issuer,
            header_b64: URL_SAFE_NO_PAD.encode(header),
            kid,
            jwks,
            clock: clock::system(),
            cache: DashMap::new(),
        })
    }

    /// Uses this clock for `iat`/`exp` and cache expiry (tests).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The key id (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The JWKS document upstreams verify with.
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    /// An assertion for `audience` (the route name): a cached one while it has more than
    /// 60 s left, else a freshly signed one valid for 120 s.
    pub fn sign(&self, audience: &str, claims: &AssertionClaims) -> Result<Arc<str>, ProxyError> {
        let now = self.clock.now().unix_timestamp();
        let key = cache_key(audience, claims);
        if let Some(hit) = self.cache.get(&key) {
            if hit.exp - now > MIN_REMAINING_SECS {
                return Ok(hit.token.clone());
            }
        }
        let exp = now + LIFETIME_SECS;
        let payload = serde_json::to_vec(&Payload {
            iss: &self.issuer,
            aud: audience,
            sub: &claims.sub,
            iat: now,
            nbf: now,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            user_name: &claims.user_name,
            email: claims.email.as_deref(),
            groups: &claims.groups,
        })
        .map_err(|_| ProxyError::Signing)?;
        let signing_input = format!("{}.{}", self.header_b64, URL_SAFE_NO_PAD.encode(payload));
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .map_err(|_| ProxyError::Signing)?;
        let token: Arc<str> = format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        )
        .into();
        self.remember(key, token.clone(), exp, now);
        Ok(token)
    }

    fn remember(&self, key: [u8; 32], token: Arc<str>, exp: i64, now: i64) {
        self.cache.insert(key, Cached { token, exp });
        if self.cache.len() > MAX_CACHED {
            self.cache.retain(|_, c| c.exp - now > MIN_REMAINING_SECS);
            if self.cache.len() > MAX_CACHED {
                self.cache.clear();
            }
        }
    }
}

/// A digest of everything a token says, so any change misses the cache.
fn cache_key(audience: &str, claims: &AssertionClaims) -> [u8; 32] {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(audience.as_bytes());
    field(claims.sub.as_bytes());
    field(&claims.seq.to_be_bytes());
    field(claims.user_name.as_bytes());
    match &claims.email {
        Some(email) => field(email.as_bytes()),
        None => field(b"\xff"),
    }
    field(&(claims.groups.len() as u64).to_be_bytes());
    for group in &claims.groups {
        field(group.as_bytes());
    }
    hasher.finalize().into()
}

/// Generates a key and writes it as PKCS#8 PEM, readable by the owner only; returns the PEM.
fn create_key_file(key_file: &Path) -> Result<Vec<u8>, ProxyError> {
    let io_error = |source| ProxyError::KeyFile {
        path: key_file.to_owned(),
        source,
    };
    let document =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(|_| ProxyError::Signing)?;
    let pem = pem_encode("PRIVATE KEY", document.as_ref());
    if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_error)?;
    }
    // Written beside the target and renamed, so a crash never leaves half a key.
    let mut temp = key_file.as_os_str().to_owned();
    temp.push(format!(".tmp-{}", std::process::id()));
    let temp = std::path::PathBuf::from(temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temp).map_err(io_error)?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error)?;
    std::fs::rename(&temp, key_file).map_err(io_error)?;
    Ok(pem.into_bytes())
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

#[cfg(test)]
mod tests;
