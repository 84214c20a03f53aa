//! The stdout sink: one JSON line per record (for container log collectors).

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Sink, SinkCounters, SinkError};
use crate::audit::wire;
use crate::record::AuditRow;

/// Prints records to stdout.
#[derive(Debug, Default)]
pub struct StdoutSink {
    counters: Arc<SinkCounters>,
}

impl Sink for StdoutSink {
    fn name(&self) -> &'static str {
        "stdout"
    }

    fn write(&mut self, rows: &[AuditRow]) -> Result<(), SinkError> {
        let mut out = std::io::stdout().lock();
        let io = |source| SinkError::Io {
            sink: "stdout",
            path: "-".into(),
            source,
        };
        for row in rows {
            writeln!(out, "{}", wire::to_line(row)).map_err(io)?;
        }
        out.flush().map_err(io)?;
        let n = rows.len() as u64;
        self.counters.taken.fetch_add(n, Ordering::Relaxed);
        self.counters.delivered.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    fn counters(&self) -> &Arc<SinkCounters> {
        &self.counters
    }
}
