//! The `sessions:` section: browser sessions' lifetime and cookie.

use std::time::Duration;

use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// `sessions:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    ttl_seconds: Option<u64>,
    cookie_name: Option<String>,
}

/// Browser sessions.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub ttl: Duration,
    /// Cookie name; under TLS it is sent as `__Host-{name}`.
    pub cookie_name: String,
    /// Browsers reach scimgate over HTTPS (local TLS, or an `https://` public URL behind
    /// a TLS-terminating proxy): cookies are `Secure` and `__Host-` prefixed.
    pub secure: bool,
}

impl RawSessions {
    /// Checks the section; `secure`: browsers reach scimgate over HTTPS. A lifetime
    /// under a minute is raised to one.
    pub fn validate(self, check: Checker<'_>, secure: bool) -> Result<SessionConfig, ConfigError> {
        let cookie_name = self
            .cookie_name
            .unwrap_or_else(|| "scimgate_session".to_owned());
        let valid = !cookie_name.is_empty()
            && cookie_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(check.invalid(
                "sessions.cookie_name",
                format!("{cookie_name:?}: use letters, digits, '_' and '-'"),
            ));
        }
        Ok(SessionConfig {
            ttl: Duration::from_secs(self.ttl_seconds.unwrap_or(12 * 3600).max(60)),
            cookie_name,
            secure,
        })
    }
}
