//! The `audit:` section of the configuration: the decision queue and the sinks.
//!
//! ```yaml
//! audit:
//!   queue_capacity: 65536      # decisions waiting to be written; overflow is counted
//!   batch_max: 1000            # records per store transaction
//!   batch_interval_ms: 100     # the longest a decision waits for its batch
//!   tail_interval_ms: 250      # how often sinks look for records others committed
//!   max_path_bytes: 512        # longer paths are clipped (length and SHA-256 kept)
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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;

/// `audit:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuditConfig {
    queue_capacity: Option<usize>,
    batch_max: Option<usize>,
    batch_interval_ms: Option<u64>,
    tail_interval_ms: Option<u64>,
    max_path_bytes: Option<usize>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSyslogSink {
    address: String,
    transport: Option<String>,
    facility: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileSink {
    path: PathBuf,
    max_bytes: Option<u64>,
    keep: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpSink {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    batch_max: Option<usize>,
    spool_max_bytes: Option<u64>,
    on_spool_full: Option<String>,
    retry_initial_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    timeout_ms: Option<u64>,
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
            max_path_bytes: super::bounds::DEFAULT_MAX_PATH_BYTES,
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
fn parse_age(file: &str, key: &'static str, text: &str) -> Result<Duration, ConfigError> {
    let bad = || {
        invalid(
            file,
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
    fn validate(self, file: &str, queue_capacity: usize) -> Result<AnonymousConfig, ConfigError> {
        let d = AnonymousConfig::default();
        let window = self
            .window_ms
            .map(Duration::from_millis)
            .unwrap_or(d.window);
        if window < Duration::from_millis(10) || window > Duration::from_secs(86_400) {
            return Err(invalid(
                file,
                "audit.anonymous.window_ms",
                "must be between 10 and 86400000",
            ));
        }
        let samples_per_key = self.samples_per_key.unwrap_or(d.samples_per_key);
        if samples_per_key > 100 {
            return Err(invalid(
                file,
                "audit.anonymous.samples_per_key",
                "must be at most 100",
            ));
        }
        Ok(AnonymousConfig {
            window,
            individual_per_key: self.individual_per_key.unwrap_or(d.individual_per_key),
            samples_per_key,
            max_keys: positive(file, "audit.anonymous.max_keys", self.max_keys, d.max_keys)?,
            queue_capacity: positive(
                file,
                "audit.anonymous.queue_capacity",
                self.queue_capacity,
                d.queue_capacity,
            )?
            .min(queue_capacity),
        })
    }
}

impl RawRetention {
    fn validate(self, file: &str) -> Result<RetentionConfig, ConfigError> {
        let d = RetentionConfig::default();
        let key = "audit.retention.decisions_max_age";
        let decisions_max_age = match self.decisions_max_age.as_deref() {
            None => d.decisions_max_age,
            Some("forever") => None,
            Some(text) => Some(parse_age(file, key, text)?),
        };
        let interval = match self.interval.as_deref() {
            None => d.interval,
            Some(text) => parse_age(file, "audit.retention.interval", text)?,
        };
        Ok(RetentionConfig {
            decisions_max_age,
            interval,
            rows_per_pass: positive(
                file,
                "audit.retention.rows_per_pass",
                self.rows_per_pass,
                d.rows_per_pass,
            )?,
        })
    }
}

/// A JSON-lines file, rotated by size.
#[derive(Debug, Clone)]
pub struct FileSinkConfig {
    pub path: PathBuf,
    /// The file is rotated before a write would take it past this size.
    pub max_bytes: u64,
    /// How many rotated files are kept (`path.1` the newest).
    pub keep: usize,
}

/// How syslog messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyslogTransport {
    Udp,
    Tcp,
}

/// RFC 5424 messages to a syslog receiver.
#[derive(Debug, Clone)]
pub struct SyslogSinkConfig {
    pub address: std::net::SocketAddr,
    pub transport: SyslogTransport,
    /// A facility name (`auth`, `authpriv`, `local0` ...).
    pub facility: String,
}

/// What the HTTP sink does when its spool is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpoolFull {
    /// Discard the oldest spooled records to make room.
    DropOldest,
    /// Keep the spool as it is and discard the new records.
    DropNewest,
}

impl SpoolFull {
    pub fn as_str(self) -> &'static str {
        match self {
            SpoolFull::DropOldest => "drop_oldest",
            SpoolFull::DropNewest => "drop_newest",
        }
    }
}

/// Batched POSTs of JSON records to a SIEM, spooled on disk while it is away.
#[derive(Clone)]
pub struct HttpSinkConfig {
    pub url: String,
    /// Extra request headers (secrets allowed: `${env:NAME}`, never logged).
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub batch_max: usize,
    pub spool_max_bytes: u64,
    pub on_spool_full: SpoolFull,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpSinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSinkConfig")
            .field("url", &self.url)
            .field("headers", &self.headers.len())
            .field("batch_max", &self.batch_max)
            .field("spool_max_bytes", &self.spool_max_bytes)
            .field("on_spool_full", &self.on_spool_full)
            .finish_non_exhaustive()
    }
}

fn invalid(file: &str, key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_owned(),
        key,
        reason: reason.into(),
    }
}

fn positive(
    file: &str,
    key: &'static str,
    v: Option<usize>,
    default: usize,
) -> Result<usize, ConfigError> {
    match v {
        Some(0) => Err(invalid(file, key, "must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(default),
    }
}

impl RawAuditConfig {
    /// Checks the section; `file` names the config file in errors.
    pub fn validate(self, file: &str) -> Result<AuditConfig, ConfigError> {
        let d = AuditConfig::default();
        let ms =
            |v: Option<u64>, default: Duration| v.map(Duration::from_millis).unwrap_or(default);
        let queue_capacity = positive(
            file,
            "audit.queue_capacity",
            self.queue_capacity,
            d.queue_capacity,
        )?;
        let max_path_bytes = self.max_path_bytes.unwrap_or(d.max_path_bytes);
        if !(16..=65_536).contains(&max_path_bytes) {
            return Err(invalid(
                file,
                "audit.max_path_bytes",
                "must be between 16 and 65536",
            ));
        }
        Ok(AuditConfig {
            queue_capacity,
            batch_max: positive(file, "audit.batch_max", self.batch_max, d.batch_max)?,
            batch_interval: ms(self.batch_interval_ms, d.batch_interval),
            tail_interval: ms(self.tail_interval_ms, d.tail_interval)
                .max(Duration::from_millis(10)),
            max_path_bytes,
            anonymous: self.anonymous.validate(file, queue_capacity)?,
            retention: self.retention.validate(file)?,
            stdout: self.sinks.stdout,
            file: self.sinks.file.map(|f| f.validate(file)).transpose()?,
            http: self.sinks.http.map(|h| h.validate(file)).transpose()?,
            syslog: self.sinks.syslog.map(|s| s.validate(file)).transpose()?,
        })
    }
}

impl RawFileSink {
    fn validate(self, file: &str) -> Result<FileSinkConfig, ConfigError> {
        let max_bytes = self.max_bytes.unwrap_or(100 * 1024 * 1024);
        if max_bytes < 4096 {
            return Err(invalid(
                file,
                "audit.sinks.file.max_bytes",
                "must be at least 4096",
            ));
        }
        Ok(FileSinkConfig {
            path: self.path,
            max_bytes,
            keep: self.keep.unwrap_or(5),
        })
    }
}

impl RawSyslogSink {
    fn validate(self, file: &str) -> Result<SyslogSinkConfig, ConfigError> {
        let address = self.address.parse().map_err(|_| {
            invalid(
                file,
                "audit.sinks.syslog.address",
                format!("{:?} is not an IP address and port", self.address),
            )
        })?;
        let transport = match self.transport.as_deref() {
            None | Some("udp") => SyslogTransport::Udp,
            Some("tcp") => SyslogTransport::Tcp,
            Some(other) => {
                return Err(invalid(
                    file,
                    "audit.sinks.syslog.transport",
                    format!("{other:?}: expected udp or tcp"),
                ))
            }
        };
        let facility = self.facility.unwrap_or_else(|| "authpriv".to_owned());
        if fasyslog::Facility::try_from(facility.as_str()).is_err() {
            return Err(invalid(
                file,
                "audit.sinks.syslog.facility",
                format!("{facility:?} is not a syslog facility"),
            ));
        }
        Ok(SyslogSinkConfig {
            address,
            transport,
            facility,
        })
    }
}

impl RawHttpSink {
    fn validate(self, file: &str) -> Result<HttpSinkConfig, ConfigError> {
        let uri: http::Uri = self.url.parse().map_err(|_| {
            invalid(
                file,
                "audit.sinks.http.url",
                format!("{:?} is not a URL", self.url),
            )
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(invalid(
                file,
                "audit.sinks.http.url",
                "must be an http:// or https:// URL",
            ));
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in self.headers {
            let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                invalid(
                    file,
                    "audit.sinks.http.headers",
                    format!("{name:?} is not a header name"),
                )
            })?;
            let value = crate::secret::expand(&value)
                .map_err(|e| invalid(file, "audit.sinks.http.headers", e))?;
            let mut value = http::HeaderValue::from_str(&value).map_err(|_| {
                invalid(
                    file,
                    "audit.sinks.http.headers",
                    format!("the value of {name} is not a valid header value"),
                )
            })?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let on_spool_full = match self.on_spool_full.as_deref() {
            None | Some("drop_oldest") => SpoolFull::DropOldest,
            Some("drop_newest") => SpoolFull::DropNewest,
            Some(other) => {
                return Err(invalid(
                    file,
                    "audit.sinks.http.on_spool_full",
                    format!("{other:?}: expected drop_oldest or drop_newest"),
                ))
            }
        };
        let spool_max_bytes = self.spool_max_bytes.unwrap_or(64 * 1024 * 1024);
        if spool_max_bytes < 4096 {
            return Err(invalid(
                file,
                "audit.sinks.http.spool_max_bytes",
                "must be at least 4096",
            ));
        }
        let retry_initial = Duration::from_millis(self.retry_initial_ms.unwrap_or(500).max(1));
        Ok(HttpSinkConfig {
            url: self.url,
            headers,
            batch_max: positive(file, "audit.sinks.http.batch_max", self.batch_max, 500)?,
            spool_max_bytes,
            on_spool_full,
            retry_initial,
            retry_max: Duration::from_millis(self.retry_max_ms.unwrap_or(60_000))
                .max(retry_initial),
            timeout: Duration::from_millis(self.timeout_ms.unwrap_or(10_000).max(1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<AuditConfig, ConfigError> {
        let raw: RawAuditConfig = serde_saphyr::from_str(yaml).unwrap();
        raw.validate("test.yaml")
    }

    #[test]
    fn defaults_have_no_sinks() {
        let c = parse("{}").unwrap();
        assert_eq!(c.queue_capacity, 65_536);
        assert!(!c.stdout && c.file.is_none() && c.http.is_none());
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
