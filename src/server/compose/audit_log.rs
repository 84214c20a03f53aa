//! Wiring the audit log: the queue worker and the configured sinks, started on the
//! shutdown tree, and the policy reload observer that records reloads.

use std::path::Path;
use std::sync::Arc;

use crate::audit::sink::{self, Sink, SinkError};
use crate::audit::tailer::{Start, Tailer};
use crate::audit::{records, retention, AuditService, Auditor};
use crate::clock::SharedClock;
use crate::config::audit::AuditConfig;
use crate::policy::reload::{ReloadEvent, ReloadObserver};
use crate::server::shutdown::ShutdownTree;
use crate::store::Store;

/// The policy reload observer that records `policy.reload` / `policy.reload_refused`.
pub fn policy_observer(auditor: Auditor) -> ReloadObserver {
    Box::new(move |event| {
        let outcome = match event {
            ReloadEvent::Applied { digest, generation } => Ok((digest, generation)),
            ReloadEvent::Refused { error } => Err(error),
        };
        auditor.record(records::policy_reload(auditor.now_ms(), outcome));
    })
}

/// Starts the audit pipeline on `tree`'s writing branch: the queue worker, and the
/// configured sinks fed from the chain (cursors and the HTTP spool under
/// `data_dir/audit/`). Call [`AuditService::shutdown`] after the listeners have
/// drained.
pub fn start(
    store: Arc<dyn Store>,
    config: &AuditConfig,
    data_dir: &Path,
    clock: SharedClock,
    tree: &ShutdownTree,
) -> Result<(Auditor, AuditService), SinkError> {
    let (auditor, mut service, wake) = Auditor::start_worker(
        store.clone(),
        config,
        clock,
        tree.tracker(),
        &tree.writing_token(),
    );
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
