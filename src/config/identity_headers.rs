//! The `identity_headers:` section: which client-sent headers carry identity, so that
//! none of them ever reaches an upstream (the proxy strips them): the built-in list of
//! the common conventions, extended by the section.
//!
//! A header name is compared in its canonical spelling: ASCII lower case, and every
//! byte that is not a letter or a digit read as `-`. So `X_WEBAUTH_USER`,
//! `x.webauth.user` and `X-WebAuth-User` are one name: CGI-style upstreams (PHP,
//! Apache's environment, WSGI) map `-` and other punctuation to `_` and upper-case the
//! rest, so any of those spellings reaches them as `HTTP_X_WEBAUTH_USER`.

use std::sync::OnceLock;

use http::HeaderName;
use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// Whole names (canonical spelling) no client may send upstream.
pub const BUILTIN_NAMES: &[&str] = &[
    // oauth2-proxy and nginx auth_request setups.
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-forwarded-name",
    // Keycloak Gatekeeper / Louketo and similar.
    "x-auth-user",
    "x-auth-username",
    "x-auth-userid",
    "x-auth-email",
    "x-auth-groups",
    "x-auth-roles",
    "x-auth-subject",
    "x-auth-name",
    "x-auth-access-token",
    // Generic conventions.
    "x-user",
    "x-username",
    "x-userid",
    "x-email",
    "x-groups",
    "x-preferred-username",
    "x-userinfo",
    "x-jwt-assertion",
    "x-authenticated-user",
    "x-authenticated-userid",
    "x-authenticated-scope",
    "x-authenticated-groups",
    "x-credential-identifier",
    "x-anonymous-consumer",
    "teleport-jwt-assertion",
    // Client certificates, as TLS-terminating proxies pass them on.
    "x-client-cert",
    "x-client-dn",
    "x-client-verify",
    "ssl-client-cert",
];

/// Name prefixes (canonical spelling) no client may send upstream.
pub const BUILTIN_PREFIXES: &[&str] = &[
    // Ours: X-Auth-Request-User/-Email/-Groups and X-Scimgate-Assertion.
    "x-auth-request-",
    "x-scimgate-",
    // Apache/Kubernetes front proxies (X-Remote-User/-Group/-Extra-*), Authelia
    // (Remote-User/-Groups/-Email/-Name).
    "x-remote-",
    "remote-",
    // Grafana auth proxy (X-WEBAUTH-USER, -EMAIL, -NAME, -ROLE, -GROUPS).
    "x-webauth-",
    "x-user-",
    "x-pomerium-",
    "x-goog-authenticated-user-",
    "x-goog-iap-",
    "cf-access-",
    "x-ms-client-principal",
    "x-ms-token-",
    "x-amzn-oidc-",
    "x-authentik-",
    "x-vouch-",
    "x-consumer-",
    "x-ssl-client-",
];

/// `identity_headers:` as written in the configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentityHeaders {
    /// Further header names to strip (any spelling).
    pub strip: Option<Vec<String>>,
    /// Further name prefixes to strip (any spelling).
    pub strip_prefixes: Option<Vec<String>>,
}

/// The compiled list: the built-in names and prefixes, and the configured ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityStrip {
    names: Box<[Box<str>]>,
    prefixes: Box<[Box<str>]>,
    /// The canonical first bytes of every name and prefix, as a set: a header whose
    /// first byte is none of them (`host`, `accept`, `authorization`, …) is passed over
    /// without a comparison.
    first_bytes: [bool; 256],
}

impl Default for IdentityStrip {
    fn default() -> Self {
        IdentityStrip::builtin().clone()
    }
}

/// The canonical spelling of one byte of a header name.
fn canonical_byte(b: u8) -> u8 {
    if b.is_ascii_alphanumeric() {
        b.to_ascii_lowercase()
    } else {
        b'-'
    }
}

/// A header name in its canonical spelling (see the module doc).
pub fn canonical(name: &str) -> String {
    name.bytes()
        .map(|b| char::from(canonical_byte(b)))
        .collect()
}

/// Whether `name`, canonically spelled, is the canonical `target`.
pub(crate) fn canonical_eq(name: &[u8], target: &[u8]) -> bool {
    name.len() == target.len() && canonical_starts_with(name, target)
}

/// Whether `name`, canonically spelled, starts with the canonical `prefix`.
pub(crate) fn canonical_starts_with(name: &[u8], prefix: &[u8]) -> bool {
    name.len() >= prefix.len()
        && name
            .iter()
            .zip(prefix)
            .all(|(&n, &p)| canonical_byte(n) == p)
}

impl IdentityStrip {
    /// The built-in list only.
    pub fn builtin() -> &'static IdentityStrip {
        static BUILTIN: OnceLock<IdentityStrip> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            IdentityStrip::from_lists(
                BUILTIN_NAMES.iter().map(|n| Box::from(*n)).collect(),
                BUILTIN_PREFIXES.iter().map(|p| Box::from(*p)).collect(),
            )
        })
    }

    /// The list of these canonical names and prefixes (each at least one byte long).
    fn from_lists(names: Box<[Box<str>]>, prefixes: Box<[Box<str>]>) -> Self {
        let mut first_bytes = [false; 256];
        for entry in names.iter().chain(prefixes.iter()) {
            if let Some(&b) = entry.as_bytes().first() {
                first_bytes[usize::from(b)] = true;
            }
        }
        IdentityStrip {
            names,
            prefixes,
            first_bytes,
        }
    }

    /// The built-in list with `names` and `prefixes` added; an entry that is not a
    /// header name (or an empty prefix, which would strip every header) is refused.
    pub fn with_extra(names: &[String], prefixes: &[String]) -> Result<Self, String> {
        let check = |what: &str, text: &str| -> Result<Box<str>, String> {
            let text = text.trim();
            if HeaderName::from_bytes(text.as_bytes()).is_err() {
                return Err(format!("{what} `{text}` is not a header name"));
            }
            if !text.bytes().any(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("{what} `{text}` has no letter or digit"));
            }
            Ok(canonical(text).into())
        };
        let builtin = IdentityStrip::builtin();
        let mut all_names: Vec<Box<str>> = builtin.names.to_vec();
        for n in names {
            all_names.push(check("strip entry", n)?);
        }
        let mut all_prefixes: Vec<Box<str>> = builtin.prefixes.to_vec();
        for p in prefixes {
            all_prefixes.push(check("strip_prefixes entry", p)?);
        }
        all_names.sort();
        all_names.dedup();
        all_prefixes.sort();
        all_prefixes.dedup();
        Ok(IdentityStrip::from_lists(
            all_names.into(),
            all_prefixes.into(),
        ))
    }

    /// Whether a header name, in any spelling, is an identity header.
    pub fn matches_str(&self, name: &str) -> bool {
        let bytes = name.as_bytes();
        match bytes.first() {
            Some(&b) if self.first_bytes[usize::from(canonical_byte(b))] => {}
            _ => return false,
        }
        self.names
            .iter()
            .any(|n| n.len() == bytes.len() && canonical_starts_with(bytes, n.as_bytes()))
            || self
                .prefixes
                .iter()
                .any(|p| canonical_starts_with(bytes, p.as_bytes()))
    }

    /// [`IdentityStrip::matches_str`] for a parsed name.
    pub fn matches(&self, name: &HeaderName) -> bool {
        self.matches_str(name.as_str())
    }
}

impl RawIdentityHeaders {
    /// Checks the section.
    pub fn validate(self, check: Checker<'_>) -> Result<IdentityStrip, ConfigError> {
        IdentityStrip::with_extra(
            &self.strip.unwrap_or_default(),
            &self.strip_prefixes.unwrap_or_default(),
        )
        .map_err(|reason| check.invalid("identity_headers", reason))
    }
}
