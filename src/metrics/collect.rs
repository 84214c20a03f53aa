//! Values read when `/metrics` is scraped rather than counted as they happen: directory
//! sizes, the age of each token's last SCIM call, and the audit queue.
//!
//! The directory and the audit log sit above this module; they connect through
//! [`DirectoryStatsSource`] ([`ScrapeSources::set_directory`]) and [`AuditStatsSource`]
//! ([`ScrapeSources::set_audit`]). Until something is connected, its metrics are
//! absent from the exposition rather than reported as zero.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

use crate::clock::{to_millis, Clock, SystemClock};

/// What the directory reports at a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryStats {
    pub users: usize,
    pub groups: usize,
    /// Direct group memberships.
    pub memberships: usize,
    /// On a shared store, how fresh this replica's copy is (none on the embedded store).
    pub replica: Option<ReplicaStats>,
}

/// How fresh a replica's directory is, at a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaStats {
    /// Within its freshness bound.
    pub fresh: bool,
    /// The change notifications connection is up.
    pub connected: bool,
    /// Time since the last catch-up with the shared store.
    pub since_catch_up: Duration,
}

/// Anything that can report [`DirectoryStats`] (the directory).
pub trait DirectoryStatsSource: Send + Sync + 'static {
    fn directory_stats(&self) -> DirectoryStats;
}

/// What the audit queue reports at a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Records waiting to be written.
    pub queue_depth: u64,
    /// Records that did not fit in the queue since start (counted, never silent).
    pub overflowed: u64,
    /// Anonymous refusals waiting in their own queue (part of `queue_depth`).
    pub anonymous_queue_depth: u64,
    /// Anonymous refusals counted into aggregate records instead of their own.
    pub aggregated: u64,
    /// Allows counted into `access.allow_aggregate` records (`audit.decisions`).
    pub allows_counted: u64,
    /// Decision records removed by the retention policy.
    pub pruned: u64,
    /// Records appended to the chain.
    pub appended: u64,
    /// Records the store refused after retries.
    pub append_errors: u64,
    /// Each sink's shipping (file, stdout, HTTP).
    pub sinks: Vec<AuditSinkStats>,
}

/// What one audit sink reports at a scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSinkStats {
    pub sink: &'static str,
    /// Records delivered since start.
    pub delivered: u64,
    /// Failed delivery attempts since start.
    pub errors: u64,
    /// Records given up past the backlog bound since start.
    pub dropped: u64,
    /// Bytes waiting in the on-disk backlog.
    pub backlog_bytes: u64,
}

/// Anything that can report [`AuditStats`] (the audit log's `Auditor`).
pub trait AuditStatsSource: Send + Sync + 'static {
    fn audit_stats(&self) -> AuditStats;
}

/// Where scrape-time values come from; each is connected once, at start.
#[derive(Default)]
pub struct ScrapeSources {
    directory: OnceLock<Arc<dyn DirectoryStatsSource>>,
    audit: OnceLock<Arc<dyn AuditStatsSource>>,
    /// Token name → when it last called (milliseconds since the epoch).
    scim_last_call: DashMap<Arc<str>, AtomicI64>,
}

impl std::fmt::Debug for ScrapeSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeSources")
            .field("directory", &self.directory.get().is_some())
            .field("audit", &self.audit.get().is_some())
            .finish_non_exhaustive()
    }
}

impl ScrapeSources {
    /// Connects the directory whose sizes are reported (the first call wins).
    pub fn set_directory(&self, dir: Arc<dyn DirectoryStatsSource>) {
        let _ = self.directory.set(dir);
    }

    /// Connects the audit log's queue statistics (the first call wins).
    pub fn set_audit(&self, source: Arc<dyn AuditStatsSource>) {
        let _ = self.audit.set(source);
    }

    /// Notes that `token` called now; returns its name as a shared label value.
    pub(crate) fn scim_seen(&self, token: &str) -> Arc<str> {
        let now = to_millis(SystemClock.now());
        if let Some(entry) = self.scim_last_call.get(token) {
            entry.value().store(now, Ordering::Relaxed);
            return entry.key().clone();
        }
        let name: Arc<str> = Arc::from(token);
        self.scim_last_call
            .entry(name.clone())
            .or_insert_with(|| AtomicI64::new(now))
            .store(now, Ordering::Relaxed);
        name
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabel {
    sink: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabel {
    token: Arc<str>,
}

/// One scrape-time value as its own metric family, without labels.
fn encode_const(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric: impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// Encodes the scrape-time values.
#[derive(Debug)]
pub(crate) struct StateCollector(pub Arc<ScrapeSources>);

impl Collector for StateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sources = &self.0;
        if let Some(dir) = sources.directory.get() {
            let stats = dir.directory_stats();
            for (name, help, value) in [
                ("directory_users", "Users in the directory.", stats.users),
                ("directory_groups", "Groups in the directory.", stats.groups),
                (
                    "directory_memberships",
                    "Direct group memberships in the directory.",
                    stats.memberships,
                ),
            ] {
                encode_const(&mut encoder, name, help, ConstGauge::new(value as i64))?;
            }
            // Replicas on a shared store: whether this one's directory is within its
            // freshness bound, and how long since it last caught up.
            if let Some(f) = stats.replica {
                let since = f.since_catch_up;
                let fresh = ConstGauge::new(i64::from(f.fresh));
                fresh.encode(encoder.encode_descriptor(
                    "directory_fresh",
                    "1 while the directory is within its freshness bound (replicas), else 0.",
                    None,
                    fresh.metric_type(),
                )?)?;
                let connected = ConstGauge::new(i64::from(f.connected));
                connected.encode(encoder.encode_descriptor(
                    "replica_connected",
                    "1 while the replica's change notifications connection is up, else 0.",
                    None,
                    connected.metric_type(),
                )?)?;
                let age = ConstGauge::new(since.as_secs_f64());
                age.encode(encoder.encode_descriptor(
                    "directory_catch_up_age",
                    "Time since the directory last caught up with the shared store.",
                    Some(&Unit::Seconds),
                    age.metric_type(),
                )?)?;
            }
        }
        if !sources.scim_last_call.is_empty() {
            let now = to_millis(SystemClock.now());
            let mut family = encoder.encode_descriptor(
                "scim_last_event_age",
                "Time since each SCIM token last called.",
                Some(&Unit::Seconds),
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            for entry in sources.scim_last_call.iter() {
                let age = (now - entry.value().load(Ordering::Relaxed)).max(0) as f64 / 1000.0;
                let label = TokenLabel {
                    token: entry.key().clone(),
                };
                ConstGauge::new(age).encode(family.encode_family(&label)?)?;
            }
        }
        if let Some(audit) = sources.audit.get() {
            let stats = audit.audit_stats();
            for (name, help, value) in [
                (
                    "audit_queue_depth",
                    "Audit records waiting to be written.",
                    stats.queue_depth,
                ),
                (
                    "audit_anonymous_queue_depth",
                    "Refused anonymous requests waiting in their own audit queue.",
                    stats.anonymous_queue_depth,
                ),
            ] {
                encode_const(&mut encoder, name, help, ConstGauge::new(value as i64))?;
            }
            for (name, help, value) in [
                (
                    "audit_overflow",
                    "Audit records that did not fit in the queue.",
                    stats.overflowed,
                ),
                (
                    "audit_aggregated",
                    "Refused anonymous requests counted into access.deny_aggregate records.",
                    stats.aggregated,
                ),
                (
                    "audit_allows_counted",
                    "Allowed requests counted into access.allow_aggregate records (audit.decisions: sampled or deny).",
                    stats.allows_counted,
                ),
                (
                    "audit_pruned",
                    "Decision records removed by the audit retention policy.",
                    stats.pruned,
                ),
                (
                    "audit_appended",
                    "Audit records appended to the chain.",
                    stats.appended,
                ),
                (
                    "audit_append_errors",
                    "Audit records the store refused after retries.",
                    stats.append_errors,
                ),
            ] {
                encode_const(&mut encoder, name, help, ConstCounter::new(value))?;
            }
            type Field = fn(&AuditSinkStats) -> u64;
            let counters: [(&str, &str, Field); 3] = [
                (
                    "audit_sink_delivered",
                    "Audit records a sink delivered.",
                    |s| s.delivered,
                ),
                (
                    "audit_sink_errors",
                    "Failed audit deliveries (retried).",
                    |s| s.errors,
                ),
                (
                    "audit_sink_dropped",
                    "Audit records a sink gave up past its backlog bound.",
                    |s| s.dropped,
                ),
            ];
            if !stats.sinks.is_empty() {
                for (name, help, field) in counters {
                    let mut family = encoder.encode_descriptor(
                        name,
                        help,
                        None,
                        prometheus_client::metrics::MetricType::Counter,
                    )?;
                    for sink in &stats.sinks {
                        ConstCounter::new(field(sink))
                            .encode(family.encode_family(&SinkLabel { sink: sink.sink })?)?;
                    }
                }
                let mut family = encoder.encode_descriptor(
                    "audit_sink_backlog",
                    "Bytes waiting in a sink's on-disk backlog.",
                    Some(&Unit::Bytes),
                    prometheus_client::metrics::MetricType::Gauge,
                )?;
                for sink in &stats.sinks {
                    ConstGauge::new(sink.backlog_bytes as i64)
                        .encode(family.encode_family(&SinkLabel { sink: sink.sink })?)?;
                }
            }
        }
        Ok(())
    }
}
