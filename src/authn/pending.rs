//! Pending browser sign-ins, kept by the browser rather than by the server.
//!
//! `/login` seals what `/callback` needs (the `state` sent to the IdP, the `nonce`, the
//! PKCE verifier, the callback address, where to return, when it started) into a
//! short-lived cookie with AES-256-GCM (`aws_lc_rs`, a random 96-bit nonce per cookie):
//! the browser cannot read or alter it, and the server keeps nothing, so no number of
//! anonymous `/login` hits can push a real sign-in out. Each browser may have
//! [`LOGIN_SLOTS`] sign-ins in progress at once (tabs), one cookie each; a new one takes
//! a free slot, else the oldest. A callback is accepted only with the cookie whose sealed
//! `state` equals the answer's (compared in constant time), started less than
//! [`LOGIN_TTL`] ago, for the same callback address.
//!
//! The key is derived (HKDF-SHA256) from `oidc.login_key`, else from
//! `oidc.client_secret`, so every replica sharing a store opens every other's cookies;
//! with neither, a random key per process (a restart then voids sign-ins in progress;
//! the configuration refuses this with a shared PostgreSQL store).

use std::time::Duration;

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{cookie, AuthnError};

/// How long a sign-in may take, from `/login` to `/callback`.
pub const LOGIN_TTL: Duration = Duration::from_secs(600);
/// Sign-ins one browser may have in progress at once (one cookie each).
pub const LOGIN_SLOTS: usize = 4;
/// The pending sign-in cookies' names (before the `__Host-` prefix).
pub const LOGIN_COOKIES: [&str; LOGIN_SLOTS] = [
    "scimgate_login_0",
    "scimgate_login_1",
    "scimgate_login_2",
    "scimgate_login_3",
];
/// A return path longer than this is not kept (the sign-in returns to `/`): the
/// cookie must stay well under browsers' 4 KiB.
pub const MAX_RETURN_TO: usize = 1024;
/// A sealed value longer than this is not even opened.
const MAX_SEALED: usize = 3072;
/// Bound into every seal: a value sealed for something else does not open here.
const AAD: &[u8] = b"scimgate pending sign-in v1";
const HKDF_SALT: &[u8] = b"scimgate-login-cookie";
const HKDF_INFO: &[u8] = b"aes-256-gcm v1";

/// What `finish` needs from `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The `state` sent to the IdP.
    #[serde(rename = "s")]
    pub state: String,
    #[serde(rename = "n")]
    pub nonce: String,
    #[serde(rename = "v")]
    pub pkce_verifier: String,
    #[serde(rename = "u")]
    pub redirect_uri: String,
    #[serde(rename = "r")]
    pub return_to: String,
    /// Unix milliseconds.
    #[serde(rename = "t")]
    pub created_ms: i64,
    /// What a step-up sign-in asked the provider for (checked at the callback).
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<super::step_up::StepUpAsk>,
}

/// Where the key that seals pending sign-ins comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `oidc.login_key`.
    Configured,
    /// `oidc.client_secret`.
    ClientSecret,
    /// Random, this process only.
    Random,
}

/// Seals and opens pending sign-ins.
pub struct LoginSealer {
    key: RandomizedNonceKey,
    source: KeySource,
}

impl std::fmt::Debug for LoginSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSealer")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        32
    }
}

impl LoginSealer {
    /// The key from `login_key`, else `client_secret`, else random.
    pub fn new(login_key: Option<&str>, client_secret: Option<&str>) -> Result<Self, AuthnError> {
        let (secret, source) = match (login_key, client_secret) {
            (Some(k), _) => (k.as_bytes().to_vec(), KeySource::Configured),
            (None, Some(s)) => (s.as_bytes().to_vec(), KeySource::ClientSecret),
            (None, None) => {
                use rand::RngCore;
                let mut bytes = vec![0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                (bytes, KeySource::Random)
            }
        };
        let mut key = [0u8; 32];
        hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT)
            .extract(&secret)
            .expand(&[HKDF_INFO], KeyLen)
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| AuthnError::LoginFailed("the sign-in key cannot be derived"))?;
        let key = RandomizedNonceKey::new(&AES_256_GCM, &key)
            .map_err(|_| AuthnError::LoginFailed("the sign-in key cannot be made"))?;
        Ok(Self { key, source })
    }

    /// Where the key came from.
    pub fn source(&self) -> KeySource {
        self.source
    }

    /// The cookie value: base64url of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, login: &PendingLogin) -> Result<String, AuthnError> {
        let mut data = serde_json::to_vec(login)
            .map_err(|_| AuthnError::LoginFailed("the sign-in could not be recorded"))?;
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(AAD), &mut data)
            .map_err(|_| AuthnError::LoginFailed("the sign-in could not be recorded"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + data.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&data);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// The pending sign-in in a cookie value; `None` when it was not sealed by this key
    /// (or by any replica's), was altered, or is malformed.
    pub fn open(&self, value: &str) -> Option<PendingLogin> {
        if value.len() > MAX_SEALED {
            return None;
        }
        let mut bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let mut sealed = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).ok()?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut sealed)
            .ok()?;
        serde_json::from_slice(plain).ok()
    }

    /// The browser's pending sign-ins by slot (only those that open).
    pub fn pending(&self, headers: &HeaderMap, secure: bool) -> Vec<(usize, PendingLogin)> {
        LOGIN_COOKIES
            .iter()
            .enumerate()
            .filter_map(|(slot, name)| {
                let value = cookie::find(headers, &cookie::wire_name(name, secure))?;
                Some((slot, self.open(value)?))
            })
            .collect()
    }

    /// The slot a new sign-in takes: the first without a live sign-in, else the oldest.
    pub fn free_slot(&self, headers: &HeaderMap, secure: bool, now_ms: i64) -> usize {
        let live: Vec<(usize, PendingLogin)> = self
            .pending(headers, secure)
            .into_iter()
            .filter(|(_, p)| !expired(p, now_ms))
            .collect();
        (0..LOGIN_SLOTS)
            .find(|slot| live.iter().all(|(s, _)| s != slot))
            .or_else(|| {
                live.iter()
                    .min_by_key(|(_, p)| p.created_ms)
                    .map(|(s, _)| *s)
            })
            .unwrap_or(0)
    }

    /// The browser's pending sign-in that `state` answers, with its slot.
    pub fn find(
        &self,
        headers: &HeaderMap,
        secure: bool,
        state: &str,
    ) -> Result<(usize, PendingLogin), AuthnError> {
        let pending = self.pending(headers, secure);
        if pending.is_empty() {
            return Err(AuthnError::LoginFailed(
                "this browser has no sign-in in progress (it expired, or cookies are blocked)",
            ));
        }
        pending
            .into_iter()
            .find(|(_, p)| {
                p.state.len() == state.len()
                    && bool::from(p.state.as_bytes().ct_eq(state.as_bytes()))
            })
            .ok_or(AuthnError::LoginFailed(
                "the answer does not belong to this browser's sign-in attempt",
            ))
    }
}

/// Whether `login` is too old to finish at `now_ms`.
pub fn expired(login: &PendingLogin, now_ms: i64) -> bool {
    let ttl = i64::try_from(LOGIN_TTL.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(login.created_ms) >= ttl || login.created_ms > now_ms + 60_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::COOKIE;
    use http::HeaderValue;

    fn login(state: &str, created_ms: i64) -> PendingLogin {
        PendingLogin {
            state: state.into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            redirect_uri: "https://gate.test/.scimgate/callback".into(),
            return_to: "/docs".into(),
            created_ms,
            step_up: None,
        }
    }

    fn jar(pairs: &[(usize, String)]) -> HeaderMap {
        let text: Vec<String> = pairs
            .iter()
            .map(|(slot, v)| format!("{}={v}", LOGIN_COOKIES[*slot]))
            .collect();
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(&text.join("; ")).unwrap());
        h
    }

    #[test]
    fn sealed_logins_open_only_with_the_same_key_and_unaltered() {
        let a = LoginSealer::new(Some("a shared login key of enough length"), None).unwrap();
        let b = LoginSealer::new(Some("a shared login key of enough length"), None).unwrap();
        let other = LoginSealer::new(None, Some("a client secret")).unwrap();
        let sealed = a.seal(&login("st", 5)).unwrap();
        assert!(!sealed.contains("st\""), "the content is not readable");
        assert_eq!(
            b.open(&sealed),
            Some(login("st", 5)),
            "another replica opens it"
        );
        assert_eq!(other.open(&sealed), None);
        assert_eq!(other.source(), KeySource::ClientSecret);
        assert_eq!(
            LoginSealer::new(None, None).unwrap().source(),
            KeySource::Random
        );
        // Flip one bit anywhere: refused.
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert_eq!(a.open(&URL_SAFE_NO_PAD.encode(&raw)), None);
        assert_eq!(a.open("not base64 !"), None);
        assert_eq!(a.open(""), None);
        // Two seals of the same login differ (random nonces).
        assert_ne!(sealed, a.seal(&login("st", 5)).unwrap());
    }

    #[test]
    fn slots_fill_then_the_oldest_is_reused_and_state_picks_the_cookie() {
        let k = LoginSealer::new(Some("k"), None).unwrap();
        let now = 1_000_000;
        assert_eq!(k.free_slot(&HeaderMap::new(), false, now), 0);
        let cookies: Vec<(usize, String)> = (0..LOGIN_SLOTS)
            .map(|i| {
                (
                    i,
                    k.seal(&login(&format!("s{i}"), now - 10 + i as i64))
                        .unwrap(),
                )
            })
            .collect();
        assert_eq!(k.free_slot(&jar(&cookies[..2]), false, now), 2);
        assert_eq!(k.free_slot(&jar(&cookies), false, now), 0, "the oldest");
        // An expired one is free.
        let mut aged = cookies.clone();
        aged[3].1 = k.seal(&login("old", now - 600_000)).unwrap();
        assert_eq!(k.free_slot(&jar(&aged), false, now), 3);
        let (slot, found) = k.find(&jar(&cookies), false, "s2").unwrap();
        assert_eq!((slot, found.state.as_str()), (2, "s2"));
        assert!(k.find(&jar(&cookies), false, "s9").is_err());
        assert!(k.find(&HeaderMap::new(), false, "s2").is_err());
        // Under the __Host- names only.
        assert!(k.find(&jar(&cookies), true, "s2").is_err());
    }

    #[test]
    fn expiry() {
        assert!(!expired(&login("s", 0), 599_999));
        assert!(expired(&login("s", 0), 600_000));
        assert!(expired(&login("s", 10_000_000), 0), "from the future");
    }
}
