//! Sinks: where stored audit records go besides the store (which is the chain itself).
//!
//! A sink is fed by the [tailer](super::tailer) in chain order and keeps a persisted
//! cursor (the last sequence number it has taken), so a restart resumes where it
//! stopped: at most the last batch is repeated, nothing is skipped. Counters are shared
//! atomics so [`super::Auditor::stats`] can read them while the tailer writes.

pub mod cursor;
pub mod file;
pub mod http;
pub mod spool;
pub mod stdout;
pub mod syslog;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::record::AuditRow;

/// Why a sink could not take records (they are offered again on the next pass).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("audit sink {sink}: {path}: {source}")]
    Io {
        sink: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A destination for stored records. Calls block (the tailer runs on a blocking thread).
pub trait Sink: Send {
    /// A short stable name (`file`, `stdout`, `http`), also the cursor file's name.
    fn name(&self) -> &'static str;
    /// Takes records in chain order; on `Ok` they are the sink's responsibility.
    fn write(&mut self, rows: &[AuditRow]) -> Result<(), SinkError>;
    /// The counters this sink shares.
    fn counters(&self) -> &Arc<SinkCounters>;
    /// A shared handle on the counters.
    fn counters_arc(&self) -> Arc<SinkCounters> {
        self.counters().clone()
    }
}

/// What a sink has done, readable at any time.
#[derive(Debug, Default)]
pub struct SinkCounters {
    /// Records taken (written, printed, or spooled for delivery).
    pub taken: AtomicU64,
    /// Records delivered to the far end (HTTP only; equal to `taken` elsewhere).
    pub delivered: AtomicU64,
    /// Failed writes or deliveries (each is retried).
    pub errors: AtomicU64,
    /// Records discarded because a bounded spool was full.
    pub dropped: AtomicU64,
    /// Bytes waiting in the spool (HTTP only).
    pub backlog_bytes: AtomicU64,
    /// The last sequence number taken.
    pub cursor: AtomicU64,
}

/// A snapshot of one sink's counters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SinkStats {
    pub name: &'static str,
    pub taken: u64,
    pub delivered: u64,
    pub errors: u64,
    pub dropped: u64,
    pub backlog_bytes: u64,
    pub cursor: u64,
}

impl SinkCounters {
    pub fn snapshot(&self, name: &'static str) -> SinkStats {
        SinkStats {
            name,
            taken: self.taken.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            backlog_bytes: self.backlog_bytes.load(Ordering::Relaxed),
            cursor: self.cursor.load(Ordering::Relaxed),
        }
    }
}
