//! The `audit:` section: the decision queue, bounds, retention and the sinks (each
//! sink's settings and checks are in `sinks.rs`).
//!
//! ```yaml
//! audit:
//!   queue_capacity: 65536      # decisions waiting to be written; overflow is counted
//!   batch_max: 1000            # records per store transaction
//!   batch_interval_ms: 100     # the longest a decision waits for its batch
//!   tail_interval_ms: 250      # how often sinks look for records others committed
//!   max_path_bytes: 512        # longer paths are clipped (length and SHA-256 kept)
//!   decisions: all             # or sampled, deny: what an allow leaves (decisions.rs)
//!   allows: { window_ms: 60000, max_keys: 10000, sample_every: 100 }
//!   anonymous:                 # refusals with no authenticated caller
//!     window_ms: 10000         # one aggregate record per (route, reason) per window
//!     individual_per_key: 10   # recorded one by one per key and window before that
//!     samples_per_key: 3       # example requests kept in an aggregate
//!     max_keys: 256            # (route, reason) keys per window; more share `route:*`
//!     queue_capacity: 4096     # their own queue (at most queue_capacity)
//!   retention:
//!     decisions_max_age: 30d   # access.allow/deny/deny_aggregate older are pruned; or "forever"
//!     interval: 1h             # how often the pruner runs
//!     rows_per_pass: 10000     # records examined per pruning transaction
//!   sinks:
//!     stdout: true
//!     file: { path: /var/log/scimgate/audit.jsonl, max_bytes: 104857600, keep: 5 }
//!     http:
//!       url: https://siem.example.com/ingest
//!       headers: { authorization: "Bearer ${env:SIEM_TOKEN}" }
//!       batch_max: 500
//!       spool_max_bytes: 67108864
//!       on_spool_full: drop_oldest   # or drop_newest
//!       retry_initial_ms: 500
//!       retry_max_ms: 60000
//!       timeout_ms: 10000
//!     syslog: { address: "127.0.0.1:514", transport: udp, facility: authpriv }
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::error::{Checker, ConfigError};
use decisions::RawAllows;
pub use decisions::{AllowsConfig, DecisionsMode};
pub use sinks::{FileSinkConfig, HttpSinkConfig, SpoolFull, SyslogSinkConfig, SyslogTransport};
use sinks::{RawFileSink, RawHttpSink, RawSyslogSink};

mod decisions;
mod sinks;

/// Default for `audit.max_path_bytes`: longer paths are clipped in records.
pub const DEFAULT_MAX_PATH_BYTES: usize = 512;

/// `audit:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuditConfig {
    queue_capacity: Option<usize>,
    batch_max: Option<usize>,
    batch_interval_ms: Option<u64>,
    tail_interval_ms: Option<u64>,
    max_path_bytes: Option<usize>,
    decisions: Option<String>,
    #[serde(default)]
    allows: RawAllows,
    #[serde(default)]
    anonymous: RawAnonymous,
    #[serde(default)]
    retention: RawRetention,
    #[serde(default)]
    sinks: RawSinks,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnonymous {
    window_ms: Option<u64>,
    individual_per_key: Option<u64>,
    samples_per_key: Option<usize>,
    max_keys: Option<usize>,
    queue_capacity: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    decisions_max_age: Option<String>,
    interval: Option<String>,
    rows_per_pass: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSinks {
    #[serde(default)]
    stdout: bool,
    file: Option<RawFileSink>,
    http: Option<RawHttpSink>,
    syslog: Option<RawSyslogSink>,
}

/// The validated `audit:` section.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// How many decisions may wait to be written; past it they are counted as overflow.
    pub queue_capacity: usize,
    /// Records per store transaction.
    pub batch_max: usize,
    /// The longest a queued decision waits for its batch to fill.
    pub batch_interval: Duration,
    /// How often the sinks look for records written by others (directory changes, the CLI).
    pub tail_interval: Duration,
    /// Paths longer than this are clipped in records (length and SHA-256 kept).
    pub max_path_bytes: usize,
    /// What an allowed request leaves on the chain (`decisions`, `allows`).
    pub allows: AllowsConfig,
    /// How refusals with no authenticated caller are recorded.
    pub anonymous: AnonymousConfig,
    /// How long decision records are kept.
    pub retention: RetentionConfig,
    /// Whether records are printed to stdout as JSON lines.
    pub stdout: bool,
    pub file: Option<FileSinkConfig>,
    pub http: Option<HttpSinkConfig>,
    pub syslog: Option<SyslogSinkConfig>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            queue_capacity: 65_536,
            batch_max: 1000,
            batch_interval: Duration::from_millis(100),
            tail_interval: Duration::from_millis(250),
            max_path_bytes: DEFAULT_MAX_PATH_BYTES,
            allows: AllowsConfig::default(),
            anonymous: AnonymousConfig::default(),
            retention: RetentionConfig::default(),
            stdout: false,
            file: None,
            http: None,
            syslog: None,
        }
    }
}

/// `audit.anonymous`: refusals before a caller is known (no route, no or refused
/// credentials, ambiguous path, not provisioned, stale directory) cost bounded space:
/// per window and (route, reason), the first `individual_per_key` are recorded one by
/// one through their own queue, the rest are counted into one `access.deny_aggregate`
/// record with a few samples. They never take room in the queue of signed-in users'
/// decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousConfig {
    pub window: Duration,
    pub individual_per_key: u64,
    pub samples_per_key: usize,
    /// Distinct (route, reason) keys per window; refusals past it share the key
    /// `route:*` of their reason.
    pub max_keys: usize,
    /// Capacity of their queue (never more than `audit.queue_capacity`).
    pub queue_capacity: usize,
}

impl Default for AnonymousConfig {
    fn default() -> Self {
        AnonymousConfig {
            window: Duration::from_secs(10),
            individual_per_key: 10,
            samples_per_key: 3,
            max_keys: 256,
            queue_capacity: 4096,
        }
    }
}

/// `audit.retention`: decision records (`access.allow`, `access.deny`,
/// `access.deny_aggregate`) older than `decisions_max_age` are pruned, every
/// `interval`, behind an `audit.checkpoint` record that keeps the chain verifiable.
/// Directory changes, token, policy and audit-system records are kept forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `None`: decisions are kept forever.
    pub decisions_max_age: Option<Duration>,
    pub interval: Duration,
    pub rows_per_pass: usize,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            decisions_max_age: Some(Duration::from_secs(30 * 86_400)),
            interval: Duration::from_secs(3600),
            rows_per_pass: 10_000,
        }
    }
}

/// A duration written `90s`, `15m`, `2h` or `30d`.
fn parse_age(check: Checker<'_>, key: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let bad = || {
        check.invalid(
            key,
            format!("{text:?} is not a duration (90s, 15m, 2h, 30d)"),
        )
    };
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(secs)
        .filter(|s| *s > 0 && *s <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

impl RawAnonymous {
    fn validate(
        self,
        check: Checker<'_>,
        queue_capacity: usize,
    ) -> Result<AnonymousConfig, ConfigError> {
        let d = AnonymousConfig::default();
        let window_ms = check.between(
            "audit.anonymous.window_ms",
            self.window_ms,
            (10, 86_400_000),
            u64::try_from(d.window.as_millis()).unwrap_or(u64::MAX),
        )?;
        Ok(AnonymousConfig {
            window: Duration::from_millis(window_ms),
            individual_per_key: self.individual_per_key.unwrap_or(d.individual_per_key),
            samples_per_key: check.at_most(
                "audit.anonymous.samples_per_key",
                self.samples_per_key,
                100,
                d.samples_per_key,
            )?,
            max_keys: check.at_least("audit.anonymous.max_keys", self.max_keys, 1, d.max_keys)?,
            queue_capacity: check
                .at_least(
                    "audit.anonymous.queue_capacity",
                    self.queue_capacity,
                    1,
                    d.queue_capacity,
                )?
                .min(queue_capacity),
        })
    }
}

impl RawRetention {
    fn validate(self, check: Checker<'_>) -> Result<RetentionConfig, ConfigError> {
        let d = RetentionConfig::default();
        let decisions_max_age = match self.decisions_max_age.as_deref() {
            None => d.decisions_max_age,
            Some("forever") => None,
            Some(text) => Some(parse_age(check, "audit.retention.decisions_max_age", text)?),
        };
        let interval = match self.interval.as_deref() {
            None => d.interval,
            Some(text) => parse_age(check, "audit.retention.interval", text)?,
        };
        Ok(RetentionConfig {
            decisions_max_age,
            interval,
            rows_per_pass: check.at_least(
                "audit.retention.rows_per_pass",
                self.rows_per_pass,
                1,
                d.rows_per_pass,
            )?,
        })
    }
}

impl RawAuditConfig {
    /// Checks the section.
    pub fn validate(self, check: Checker<'_>) -> Result<AuditConfig, ConfigError> {
        let d = AuditConfig::default();
        let ms =
            |v: Option<u64>, default: Duration| v.map(Duration::from_millis).unwrap_or(default);
        let queue_capacity = check.at_least(
            "audit.queue_capacity",
            self.queue_capacity,
            1,
            d.queue_capacity,
        )?;
        Ok(AuditConfig {
            queue_capacity,
            batch_max: check.at_least("audit.batch_max", self.batch_max, 1, d.batch_max)?,
            batch_interval: ms(self.batch_interval_ms, d.batch_interval),
            tail_interval: ms(self.tail_interval_ms, d.tail_interval)
                .max(Duration::from_millis(10)),
            max_path_bytes: check.between(
                "audit.max_path_bytes",
                self.max_path_bytes,
                (16, 65_536),
                d.max_path_bytes,
            )?,
            allows: self.allows.validate(check, self.decisions.as_deref())?,
            anonymous: self.anonymous.validate(check, queue_capacity)?,
            retention: self.retention.validate(check)?,
            stdout: self.sinks.stdout,
            file: self.sinks.file.map(|f| f.validate(check)).transpose()?,
            http: self.sinks.http.map(|h| h.validate(check)).transpose()?,
            syslog: self.sinks.syslog.map(|s| s.validate(check)).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<AuditConfig, ConfigError> {
        let raw: RawAuditConfig = serde_saphyr::from_str(yaml).unwrap();
        raw.validate(Checker::new("test.yaml"))
    }

    #[test]
    fn defaults_have_no_sinks() {
        let c = parse("{}").unwrap();
        assert_eq!(c.queue_capacity, 65_536);
        assert!(!c.stdout && c.file.is_none() && c.http.is_none());
    }

    #[test]
    fn decisions_mode_and_allow_aggregates() {
        assert_eq!(parse("{}").unwrap().allows, AllowsConfig::default());
        let c =
            parse("{ decisions: sampled, allows: { window_ms: 5000, sample_every: 10 } }").unwrap();
        assert_eq!(c.allows.mode, DecisionsMode::Sampled);
        assert_eq!(c.allows.window, Duration::from_secs(5));
        assert_eq!(c.allows.sample_every, 10);
        assert_eq!(
            parse("decisions: deny").unwrap().allows.mode,
            DecisionsMode::Deny
        );
        let e = parse("decisions: none").unwrap_err().to_string();
        assert!(
            e.contains("audit.decisions") && e.contains("all, sampled or deny"),
            "{e}"
        );
        let e = parse("allows: { sample_every: 0 }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("audit.allows.sample_every"), "{e}");
    }

    #[test]
    fn http_sink_is_checked() {
        let c = parse("sinks: { http: { url: 'http://127.0.0.1:9/x', on_spool_full: drop_newest, headers: { x-key: abc } } }")
            .unwrap();
        let h = c.http.unwrap();
        assert_eq!(h.on_spool_full, SpoolFull::DropNewest);
        assert!(h.headers[0].1.is_sensitive());
        let e = parse("sinks: { http: { url: 'ftp://x/' } }").unwrap_err();
        assert!(e.to_string().contains("audit.sinks.http.url"), "{e}");
        let e = parse("sinks: { http: { url: 'http://x/', on_spool_full: block } }").unwrap_err();
        assert!(e.to_string().contains("drop_oldest or drop_newest"), "{e}");
        let e = parse("queue_capacity: 0").unwrap_err();
        assert!(e.to_string().contains("audit.queue_capacity"), "{e}");
    }

    #[test]
    fn bounds_and_retention_are_checked() {
        let c = parse("{}").unwrap();
        assert_eq!(c.max_path_bytes, 512);
        assert_eq!(
            c.retention.decisions_max_age,
            Some(Duration::from_secs(30 * 86_400))
        );
        let c =
            parse("queue_capacity: 8\nretention: { decisions_max_age: forever, interval: 90s }")
                .unwrap();
        assert_eq!(c.anonymous.queue_capacity, 8, "never more than the queue");
        assert_eq!(c.retention.decisions_max_age, None);
        assert_eq!(c.retention.interval, Duration::from_secs(90));
        let e = parse("retention: { decisions_max_age: 3w }").unwrap_err();
        assert!(e.to_string().contains("decisions_max_age"), "{e}");
        let e = parse("max_path_bytes: 1000000").unwrap_err();
        assert!(e.to_string().contains("audit.max_path_bytes"), "{e}");
        let e = parse("anonymous: { window_ms: 0 }").unwrap_err();
        assert!(e.to_string().contains("window_ms"), "{e}");
    }
}
