//! The `rate_limits:` section and the `shadow_policies:` key: how the gate keeps the
//! routes' `rate_limit:` buckets, and where the candidate policy set is read from.
//!
//! ```yaml
//! rate_limits:
//!   replicas: 2          # replicas sharing the PostgreSQL store: each keeps 1/2
//!   max_callers: 100000  # per-user buckets kept at once (idle ones evicted first)
//! shadow_policies: ./policies/shadow   # default: <policies>/shadow when it exists
//! ```

use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// Default bound on per-user buckets.
pub const DEFAULT_MAX_CALLERS: usize = 100_000;

/// `rate_limits:` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimits {
    replicas: Option<i64>,
    max_callers: Option<i64>,
}

/// The validated `rate_limits:` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// How many replicas share the limits (each keeps `1/replicas` of every one).
    pub replicas: u32,
    /// Per-user buckets kept at once.
    pub max_callers: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            replicas: 1,
            max_callers: DEFAULT_MAX_CALLERS,
        }
    }
}

impl RawRateLimits {
    pub fn validate(self, check: Checker<'_>) -> Result<RateLimitConfig, ConfigError> {
        let replicas = match self.replicas {
            None => 1,
            Some(n) if (1..=1024).contains(&n) => n as u32,
            Some(n) => {
                return Err(check.invalid(
                    "rate_limits.replicas",
                    format!("{n}: expected the number of replicas, 1 to 1024"),
                ))
            }
        };
        let max_callers = match self.max_callers {
            None => DEFAULT_MAX_CALLERS,
            Some(n) if n >= 1 => n as usize,
            Some(n) => {
                return Err(check.invalid(
                    "rate_limits.max_callers",
                    format!("{n}: expected a whole number > 0"),
                ))
            }
        };
        Ok(RateLimitConfig {
            replicas,
            max_callers,
        })
    }
}
