//! `audit.decisions` and `audit.allows`: what an allowed request leaves on the chain.
//!
//! ```yaml
//! audit:
//!   decisions: all          # all | sampled | deny
//!   allows:                 # how allows are counted with sampled or deny
//!     window_ms: 60000      # one access.allow_aggregate per (user, route) per window
//!     max_keys: 10000       # (user, route) keys per window; more share user:*
//!     sample_every: 100     # sampled: the 1st, 101st, … allow of a key also on its own
//! ```
//!
//! Denials (and every directory change) are records one by one in every mode.

use std::time::Duration;

use serde::Deserialize;

use super::super::error::{Checker, ConfigError};

/// What an allowed request leaves on the audit chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecisionsMode {
    /// Every allow is a record of its own (`access.allow`), as every deny is.
    #[default]
    All,
    /// Allows are counted per (user, route) and window into `access.allow_aggregate`
    /// records; the first allow of each key in a window, and every `sample_every`th
    /// after it, is also recorded on its own.
    Sampled,
    /// Allows are only counted into `access.allow_aggregate` records.
    Deny,
}

impl DecisionsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionsMode::All => "all",
            DecisionsMode::Sampled => "sampled",
            DecisionsMode::Deny => "deny",
        }
    }
}

/// `audit.allows` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAllows {
    window_ms: Option<u64>,
    max_keys: Option<usize>,
    sample_every: Option<u64>,
}

/// How allowed requests are recorded (`audit.decisions`, `audit.allows`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowsConfig {
    pub mode: DecisionsMode,
    /// How long one aggregate counts.
    pub window: Duration,
    /// Distinct (user, route) keys per window; allows past it share the key `user:*`
    /// of their route.
    pub max_keys: usize,
    /// With `sampled`: one allow in this many per key is also recorded on its own.
    pub sample_every: u64,
}

impl Default for AllowsConfig {
    fn default() -> Self {
        AllowsConfig {
            mode: DecisionsMode::All,
            window: Duration::from_secs(60),
            max_keys: 10_000,
            sample_every: 100,
        }
    }
}

impl RawAllows {
    pub(super) fn validate(
        self,
        check: Checker<'_>,
        mode: Option<&str>,
    ) -> Result<AllowsConfig, ConfigError> {
        let d = AllowsConfig::default();
        let mode = match mode {
            None | Some("all") => DecisionsMode::All,
            Some("sampled") => DecisionsMode::Sampled,
            Some("deny") => DecisionsMode::Deny,
            Some(other) => {
                return Err(check.invalid(
                    "audit.decisions",
                    format!("{other:?}: expected all, sampled or deny"),
                ))
            }
        };
        let window_ms = check.between(
            "audit.allows.window_ms",
            self.window_ms,
            (100, 86_400_000),
            u64::try_from(d.window.as_millis()).unwrap_or(u64::MAX),
        )?;
        Ok(AllowsConfig {
            mode,
            window: Duration::from_millis(window_ms),
            max_keys: check.at_least("audit.allows.max_keys", self.max_keys, 1, d.max_keys)?,
            sample_every: check.at_least(
                "audit.allows.sample_every",
                self.sample_every,
                1,
                d.sample_every,
            )?,
        })
    }
}
