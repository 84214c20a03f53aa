//! Reloads: counting them, watching the policy directory and the certificate files,
//! and judging live streams again after each policy reload.

use std::sync::Arc;

use crate::config::Config;
use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::metrics::Reloaded;
use crate::policy::reload::{PolicyHandle, ReloadEvent, ReloadObserver};
use crate::server::shutdown::ShutdownTree;
use crate::server::ReloadingCert;

/// Counts every policy and certificate reload in the metrics; the policies' reloads
/// also go to `audit` (the audit log's observer).
pub(super) fn observe(
    policy: &PolicyHandle,
    tls: Option<&Arc<ReloadingCert>>,
    audit: ReloadObserver,
    metrics: &Arc<Metrics>,
) {
    let m = metrics.clone();
    policy.set_observer(Box::new(move |event| {
        m.reload(
            Reloaded::Policies,
            matches!(event, ReloadEvent::Applied { .. }),
        );
        audit(event);
    }));
    if let Some(cert) = tls {
        let m = metrics.clone();
        cert.set_observer(Box::new(move |applied| {
            m.reload(Reloaded::Certificate, applied)
        }));
    }
}

/// Starts the file watchers (unless `reload.watch: false`) and the task that, after
/// each policy reload, prepares the route metrics and judges live streams again. The
/// watchers stop when the returned values are dropped; the tasks run on `tree`.
pub(super) fn watch(
    config: &Config,
    policy: &Arc<PolicyHandle>,
    tls: Option<&Arc<ReloadingCert>>,
    metrics: &Arc<Metrics>,
    gate: &Arc<Gate>,
    tree: &ShutdownTree,
) -> Vec<Box<dyn std::any::Any + Send>> {
    let mut watchers: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    if config.watch_files {
        // Its debounce thread ends within a second of the guard being dropped.
        match policy.watch() {
            Ok(w) => watchers.push(Box::new(w)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the policy directory; reload with SIGHUP")
            }
        }
    } else {
        tracing::info!("file watching is off (reload.watch: false): SIGHUP reloads the policies and the certificate");
    }
    let mut generations = policy.subscribe();
    let (policy, metrics, gate) = (policy.clone(), metrics.clone(), gate.clone());
    tree.spawn_serving(move |stop| async move {
        loop {
            tokio::select! {
                changed = generations.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = stop.cancelled() => return,
            }
            metrics
                .routes
                .prepare(policy.current().routes().iter().map(|r| r.name.clone()));
            let cut = gate.recheck_streams();
            if cut > 0 {
                tracing::info!(streams = cut, "live streams cut after a policy reload");
            }
        }
    });
    if let Some(cert) = tls.filter(|_| config.watch_files) {
        match cert.watch(tree.serving_token()) {
            Ok((w, reloads)) => {
                watchers.push(Box::new(w));
                tree.tracker().spawn(reloads);
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch the TLS files; reload with SIGHUP"),
        }
    }
    watchers
}
