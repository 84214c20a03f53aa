//! The audit log: what each kind of record says, and getting records into the chain
//! and out to the sinks.
//!
//! Every directory change, access decision, token event, policy reload and admin
//! action becomes an [`AuditEntry`](crate::record::AuditEntry). The store appends
//! entries to one hash chain (each record carries the SHA-256 of the previous one, see
//! [`crate::record::chain`]); sinks ship the stored records
//! ([`AuditRow`](crate::record::AuditRow)) onwards.
//!
//! Record formats are in [`records`]; the [`Auditor`] queues and batches records off
//! the request path ([`auditor`]); the [`tailer`] feeds the chain to the sinks
//! ([`sink`]: stdout, a rotated JSON-lines file, syslog (RFC 5424), an HTTP sink with
//! an on-disk spool);
//! [`verify`] checks the chain and [`cli`] is `scimgate audit verify|search`.
//! What a stranger can make the log spend is bounded: client text is clipped
//! ([`bounds`]), refusals with no authenticated caller are sampled and aggregated per
//! window on their own queue ([`refusals`]), and decisions are pruned after
//! `audit.retention` behind checkpoints that keep the chain verifiable ([`retention`],
//! [`crate::record::checkpoint`]).

pub mod auditor;
pub mod bounds;
pub mod cli;
pub mod records;
pub mod refusals;
pub mod retention;
pub mod sink;
mod stats_source;
pub mod tailer;
pub mod verify;
pub mod wire;

use std::path::Path;
use std::sync::Arc;

pub use auditor::{AuditService, AuditStats, Auditor};

use crate::clock::SharedClock;
use crate::config::audit::AuditConfig;
use crate::store::Store;
use sink::{Sink, SinkError};
use tailer::{Start, Tailer};

/// The policy reload observer that records `policy.reload` / `policy.reload_refused`.
pub fn policy_observer(auditor: Auditor) -> crate::policy::reload::ReloadObserver {
    use crate::policy::reload::ReloadEvent;
    Box::new(move |event| {
        let outcome = match event {
            ReloadEvent::Applied { digest, generation } => Ok((digest, generation)),
            ReloadEvent::Refused { error } => Err(error),
        };
        auditor.record(records::policy_reload(auditor.now_ms(), outcome));
    })
}

/// Starts the audit pipeline: the queue worker, and the configured sinks fed from the
/// chain (cursors and the HTTP spool under `data_dir/audit/`). Call
/// [`AuditService::shutdown`] after the listeners have drained.
pub fn start(
    store: Arc<dyn Store>,
    config: &AuditConfig,
    data_dir: &Path,
    clock: SharedClock,
) -> Result<(Auditor, AuditService), SinkError> {
    let (auditor, mut service, wake) = Auditor::start_worker(store.clone(), config, clock);
    let state = data_dir.join("audit");
    let mut tailer = Tailer::new(store);
    if config.stdout {
        let s = sink::stdout::StdoutSink::default();
        AuditService::register_sink(&auditor, "stdout", s.counters_arc());
        tailer.add(Box::new(s), &state, Start::End)?;
    }
    if let Some(f) = &config.file {
        let s = sink::file::FileSink::new(f);
        AuditService::register_sink(&auditor, "file", s.counters_arc());
        tailer.add(Box::new(s), &state, Start::Beginning)?;
    }
    if let Some(c) = &config.syslog {
        let s = sink::syslog::SyslogSink::new(c);
        AuditService::register_sink(&auditor, "syslog", s.counters_arc());
        tailer.add(Box::new(s), &state, Start::End)?;
    }
    if let Some(h) = &config.http {
        let (s, sender) = sink::http::open(h, &state.join("http-spool"), auditor.clone())?;
        AuditService::register_sink(&auditor, "http", s.counters_arc());
        tailer.add(Box::new(s), &state, Start::Beginning)?;
        service.spawn(|stop| sender.run(stop));
    }
    service.start_tailer(&wake, tailer, config.tail_interval);
    if config.retention.decisions_max_age.is_some() {
        let (a, every) = (auditor.clone(), config.retention.interval);
        service.spawn(move |stop| retention::run(a, every, stop));
    }
    Ok((auditor, service))
}
