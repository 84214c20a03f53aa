//! The `oidc:` section: the browser login (OpenID Connect authorization code flow with
//! PKCE) and the key that seals pending sign-ins.

use serde::Deserialize;

use super::error::{Checker, ConfigError};
use super::store::StoreConfig;

/// `oidc:` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOidc {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
    login_key: Option<String>,
}

/// The browser login (OIDC authorization code flow with PKCE).
#[derive(Clone)]
pub struct OidcConfig {
    /// Issuer URL; the provider is discovered from `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Resolved secret (from `${env:..}` / `${file:..}`); never logged.
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    /// Resolved secret that seals pending sign-ins (`oidc.login_key`, 32+ bytes); never
    /// logged. Without it the client secret is used, else a random per-process key.
    pub login_key: Option<String>,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("scopes", &self.scopes)
            .field("login_key", &self.login_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl RawOidc {
    /// Checks the section, resolving its secrets.
    pub fn validate(self, check: Checker<'_>) -> Result<OidcConfig, ConfigError> {
        let issuer = check.http_url("oidc.issuer", &self.issuer)?;
        let client_secret = self
            .client_secret
            .map(|s| check.secret("oidc.client_secret", &s))
            .transpose()?;
        let login_key = self
            .login_key
            .map(|s| check.secret("oidc.login_key", &s))
            .transpose()?;
        if login_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err(check.invalid("oidc.login_key", "use at least 32 random bytes"));
        }
        Ok(OidcConfig {
            issuer,
            client_id: self.client_id,
            client_secret,
            scopes: self
                .scopes
                .unwrap_or_else(|| ["openid", "profile", "email"].map(String::from).to_vec()),
            login_key,
        })
    }
}

/// Replicas sharing a PostgreSQL store must share the key that seals pending sign-ins
/// (one replica may start a sign-in that another finishes).
pub fn check_shared_login_key(
    check: Checker<'_>,
    oidc: Option<&OidcConfig>,
    store: &StoreConfig,
) -> Result<(), ConfigError> {
    match oidc {
        Some(o)
            if store.postgres.is_some() && o.login_key.is_none() && o.client_secret.is_none() =>
        {
            Err(check.invalid(
                "oidc.login_key",
                "replicas sharing a PostgreSQL store must share the key that seals pending \
                 sign-ins: set oidc.login_key (or oidc.client_secret)",
            ))
        }
        _ => Ok(()),
    }
}
