//! The audit log as a source of the operations metrics: queue depths, overflow,
//! aggregation, retention, appends and each sink's deliveries, drops and backlog, read at each scrape.

use super::auditor::Auditor;
use crate::metrics::collect::{AuditSinkStats, AuditStats, AuditStatsSource};

impl AuditStatsSource for Auditor {
    fn audit_stats(&self) -> AuditStats {
        let s = self.stats();
        AuditStats {
            queue_depth: s.queue_depth,
            overflowed: s.overflowed,
            anonymous_queue_depth: s.anonymous_queue_depth,
            aggregated: s.aggregated,
            allows_counted: s.allows_counted,
            pruned: s.pruned,
            appended: s.appended,
            append_errors: s.append_errors,
            sinks: s
                .sinks
                .iter()
                .map(|k| AuditSinkStats {
                    sink: k.name,
                    delivered: k.delivered,
                    errors: k.errors,
                    dropped: k.dropped,
                    backlog_bytes: k.backlog_bytes,
                })
                .collect(),
        }
    }
}
