//! The `scim:` section: the SCIM surface's limits, who may call it, and how much of
//! the machine its directory walks and page rendering may take.

use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// `scim:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScim {
    allow_manual_updates: Option<bool>,
    allowed_cidrs: Option<Vec<String>>,
    max_body_bytes: Option<usize>,
    max_filter_depth: Option<usize>,
    max_results: Option<usize>,
    base_url: Option<String>,
    max_concurrent_scans: Option<usize>,
    scan_timeout_seconds: Option<u64>,
    scan_queue_wait_ms: Option<u64>,
    page_threads: Option<usize>,
}

/// Settings of the SCIM surface.
#[derive(Debug, Clone)]
pub struct ScimConfig {
    /// Whether non-SCIM changes may touch SCIM-managed users and groups.
    pub allow_manual_updates: bool,
    /// Client networks allowed to call `/scim/v2`; empty means any.
    pub allowed_cidrs: Vec<IpNet>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Deepest accepted filter nesting.
    pub max_filter_depth: usize,
    /// Largest page (`count`), advertised as `filter.maxResults`.
    pub max_results: usize,
    /// Public base URL used in `meta.location` (else taken from the request's Host).
    pub base_url: Option<String>,
    /// How many listings that must walk the directory (substring filters, sorts
    /// without an index) may run at once, off the proxy's workers.
    pub max_concurrent_scans: usize,
    /// How long one such scan may run before it stops with an error.
    pub scan_timeout: Duration,
    /// How long a scan waits for a free slot before it is refused with 503 (and a
    /// listing for a free page thread).
    pub scan_queue_wait: Duration,
    /// How many low-priority threads render index-bounded listings and large groups
    /// (off the proxy's workers), one listing each at a time.
    pub page_threads: usize,
}

/// The cores SCIM's background threads may use by default: all but one, which stays
/// for the proxy's workers (a scan or a page being rendered on every core costs the
/// proxy about 3x its p99 even at the idle scheduling policy; bench/hostile `scim`).
fn background_cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// Page threads by default: one per core but one, at least one, at most four.
fn default_page_threads() -> usize {
    background_cores().min(4)
}

/// Directory walks at once by default: one per core but one, at least one, at most two.
fn default_max_concurrent_scans() -> usize {
    background_cores().min(2)
}

impl Default for ScimConfig {
    fn default() -> Self {
        Self {
            allow_manual_updates: false,
            allowed_cidrs: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_filter_depth: 16,
            max_results: 1000,
            base_url: None,
            max_concurrent_scans: default_max_concurrent_scans(),
            scan_timeout: Duration::from_secs(10),
            scan_queue_wait: Duration::from_millis(250),
            page_threads: default_page_threads(),
        }
    }
}

impl RawScim {
    /// Checks the section.
    pub fn validate(self, check: Checker<'_>) -> Result<ScimConfig, ConfigError> {
        let d = ScimConfig::default();
        let scan_timeout_seconds = check.between(
            "scim.scan_timeout_seconds",
            self.scan_timeout_seconds,
            (1, 3600),
            d.scan_timeout.as_secs(),
        )?;
        let scan_queue_wait_ms = check.at_most(
            "scim.scan_queue_wait_ms",
            self.scan_queue_wait_ms,
            60_000,
            u64::try_from(d.scan_queue_wait.as_millis()).unwrap_or(u64::MAX),
        )?;
        Ok(ScimConfig {
            allow_manual_updates: self.allow_manual_updates.unwrap_or(false),
            allowed_cidrs: check.networks("scim.allowed_cidrs", self.allowed_cidrs)?,
            max_body_bytes: check.at_least(
                "scim.max_body_bytes",
                self.max_body_bytes,
                1,
                d.max_body_bytes,
            )?,
            max_filter_depth: check.at_least(
                "scim.max_filter_depth",
                self.max_filter_depth,
                1,
                d.max_filter_depth,
            )?,
            max_results: check.at_least("scim.max_results", self.max_results, 1, d.max_results)?,
            base_url: self
                .base_url
                .map(|u| check.http_url("scim.base_url", &u))
                .transpose()?,
            max_concurrent_scans: check.at_least(
                "scim.max_concurrent_scans",
                self.max_concurrent_scans,
                1,
                d.max_concurrent_scans,
            )?,
            scan_timeout: Duration::from_secs(scan_timeout_seconds),
            scan_queue_wait: Duration::from_millis(scan_queue_wait_ms),
            page_threads: check.between(
                "scim.page_threads",
                self.page_threads,
                (1, 64),
                d.page_threads,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Result<ScimConfig, ConfigError> {
        let raw: RawScim = serde_saphyr::from_str(yaml).unwrap();
        raw.validate(Checker::new("f"))
    }

    #[test]
    fn scan_limits_default_and_refuse_nonsense() {
        let c = check("{}").unwrap();
        assert!((1..=2).contains(&c.max_concurrent_scans));
        assert_eq!(c.scan_timeout, Duration::from_secs(10));
        assert_eq!(c.scan_queue_wait, Duration::from_millis(250));
        assert!((1..=4).contains(&c.page_threads));
        let text = "max_concurrent_scans: 4\nscan_timeout_seconds: 3\nscan_queue_wait_ms: 0\npage_threads: 3\n";
        let c = check(text).unwrap();
        assert_eq!(c.max_concurrent_scans, 4);
        assert_eq!(c.scan_timeout, Duration::from_secs(3));
        assert_eq!(c.scan_queue_wait, Duration::ZERO);
        assert_eq!(c.page_threads, 3);
        for (text, key) in [
            ("page_threads: 0\n", "scim.page_threads"),
            ("page_threads: 65\n", "scim.page_threads"),
            ("max_concurrent_scans: 0\n", "scim.max_concurrent_scans"),
            ("scan_timeout_seconds: 0\n", "scim.scan_timeout_seconds"),
            ("scan_queue_wait_ms: 600000\n", "scim.scan_queue_wait_ms"),
            ("max_results: 0\n", "scim.max_results"),
            ("base_url: gate.example.com\n", "scim.base_url"),
        ] {
            let err = check(text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("f: {key}: ")), "{err}");
        }
    }
}
