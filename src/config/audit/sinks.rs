//! `audit.sinks`: where stored audit records are shipped (a rotated JSON-lines file,
//! syslog, an HTTP endpoint with an on-disk spool), and the checks of each.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::config::error::{Checker, ConfigError};

/// `audit.sinks.syslog` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSyslogSink {
    address: String,
    transport: Option<String>,
    facility: Option<String>,
}

/// `audit.sinks.file` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFileSink {
    path: PathBuf,
    max_bytes: Option<u64>,
    keep: Option<usize>,
}

/// `audit.sinks.http` as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttpSink {
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

impl RawFileSink {
    pub(super) fn validate(self, check: Checker<'_>) -> Result<FileSinkConfig, ConfigError> {
        Ok(FileSinkConfig {
            path: self.path,
            max_bytes: check.at_least(
                "audit.sinks.file.max_bytes",
                self.max_bytes,
                4096,
                100 * 1024 * 1024,
            )?,
            keep: self.keep.unwrap_or(5),
        })
    }
}

impl RawSyslogSink {
    pub(super) fn validate(self, check: Checker<'_>) -> Result<SyslogSinkConfig, ConfigError> {
        let address = self.address.parse().map_err(|_| {
            check.invalid(
                "audit.sinks.syslog.address",
                format!("{:?} is not an IP address and port", self.address),
            )
        })?;
        let transport = match self.transport.as_deref() {
            None | Some("udp") => SyslogTransport::Udp,
            Some("tcp") => SyslogTransport::Tcp,
            Some(other) => {
                return Err(check.invalid(
                    "audit.sinks.syslog.transport",
                    format!("{other:?}: expected udp or tcp"),
                ))
            }
        };
        let facility = self.facility.unwrap_or_else(|| "authpriv".to_owned());
        if fasyslog::Facility::try_from(facility.as_str()).is_err() {
            return Err(check.invalid(
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
    pub(super) fn validate(self, check: Checker<'_>) -> Result<HttpSinkConfig, ConfigError> {
        const URL: &str = "audit.sinks.http.url";
        const HEADERS: &str = "audit.sinks.http.headers";
        let uri: http::Uri = self
            .url
            .parse()
            .map_err(|_| check.invalid(URL, format!("{:?} is not a URL", self.url)))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(check.invalid(URL, "must be an http:// or https:// URL"));
        }
        let headers = check.secret_headers(HEADERS, self.headers)?;
        let on_spool_full = match self.on_spool_full.as_deref() {
            None | Some("drop_oldest") => SpoolFull::DropOldest,
            Some("drop_newest") => SpoolFull::DropNewest,
            Some(other) => {
                return Err(check.invalid(
                    "audit.sinks.http.on_spool_full",
                    format!("{other:?}: expected drop_oldest or drop_newest"),
                ))
            }
        };
        let retry_initial = Duration::from_millis(self.retry_initial_ms.unwrap_or(500).max(1));
        Ok(HttpSinkConfig {
            url: self.url,
            headers,
            batch_max: check.at_least("audit.sinks.http.batch_max", self.batch_max, 1, 500)?,
            spool_max_bytes: check.at_least(
                "audit.sinks.http.spool_max_bytes",
                self.spool_max_bytes,
                4096,
                64 * 1024 * 1024,
            )?,
            on_spool_full,
            retry_initial,
            retry_max: Duration::from_millis(self.retry_max_ms.unwrap_or(60_000))
                .max(retry_initial),
            timeout: Duration::from_millis(self.timeout_ms.unwrap_or(10_000).max(1)),
        })
    }
}
