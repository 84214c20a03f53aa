//! The `jwt:` section: bearer JWTs from scripts and CI, with pinned algorithms.

use std::time::Duration;

use serde::Deserialize;

use super::error::{Checker, ConfigError};
use super::oidc::OidcConfig;

/// `jwt:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJwt {
    issuer: Option<String>,
    audiences: Option<Vec<String>>,
    algorithms: Option<Vec<String>>,
    jwks_url: Option<String>,
    leeway_seconds: Option<u64>,
    jwks_min_refresh_seconds: Option<u64>,
}

/// Bearer JWTs from scripts and CI.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Accepted `aud` values (any one must be present).
    pub audiences: Vec<String>,
    /// Pinned algorithms (e.g. `RS256`, `ES256`); anything else is refused.
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    /// Where the keys are; discovered from the issuer when absent.
    pub jwks_url: Option<String>,
    /// Clock skew tolerated on `exp` / `nbf`.
    pub leeway: Duration,
    /// Least time between two key-set fetches triggered by an unknown `kid`.
    pub jwks_min_refresh: Duration,
}

impl RawJwt {
    /// Checks the section; the issuer defaults to the login's (`oidc`).
    pub fn validate(
        self,
        check: Checker<'_>,
        oidc: Option<&OidcConfig>,
    ) -> Result<JwtConfig, ConfigError> {
        let issuer = self
            .issuer
            .or_else(|| oidc.map(|o| o.issuer.clone()))
            .ok_or_else(|| check.invalid("jwt.issuer", "required (or set oidc.issuer)"))?;
        let issuer = check.http_url("jwt.issuer", &issuer)?;
        let audiences = self.audiences.unwrap_or_default();
        if audiences.is_empty() {
            return Err(check.invalid("jwt.audiences", "name at least one audience"));
        }
        let algorithms = self
            .algorithms
            .unwrap_or_else(|| vec!["RS256".to_owned()])
            .iter()
            .map(|a| parse_algorithm(a).map_err(|r| check.invalid("jwt.algorithms", r)))
            .collect::<Result<Vec<_>, _>>()?;
        if algorithms.is_empty() {
            return Err(check.invalid("jwt.algorithms", "name at least one algorithm"));
        }
        if let Some(u) = &self.jwks_url {
            check.http_url("jwt.jwks_url", u)?;
        }
        Ok(JwtConfig {
            issuer,
            audiences,
            algorithms,
            jwks_url: self.jwks_url,
            leeway: Duration::from_secs(self.leeway_seconds.unwrap_or(30)),
            jwks_min_refresh: Duration::from_secs(self.jwks_min_refresh_seconds.unwrap_or(10)),
        })
    }
}

fn parse_algorithm(a: &str) -> Result<jsonwebtoken::Algorithm, String> {
    use jsonwebtoken::Algorithm::*;
    Ok(match a {
        "RS256" => RS256,
        "RS384" => RS384,
        "RS512" => RS512,
        "PS256" => PS256,
        "PS384" => PS384,
        "PS512" => PS512,
        "ES256" => ES256,
        "ES384" => ES384,
        "EdDSA" => EdDSA,
        other => {
            return Err(format!(
                "{other:?}: expected an asymmetric algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)"
            ))
        }
    })
}
