//! The server's lifecycle: bind, serve, drain, stop.
//!
//! [`spawn`] builds the application ([`super::compose`]) on a fresh
//! [`ShutdownTree`], binds the listeners and serves in the background; [`run`] is
//! [`spawn`] plus the process's signals ([`super::signals`]) and the data-directory
//! lock. [`Running::stop`] walks the tree: the serving branch is cancelled (the
//! listener closes, open connections drain for up to ten seconds), the
//! operations listener closes and live tunnels are cut, the file watchers stop, the directory writer finishes the changes it has queued, the
//! audit queue is written and shipped, and the tracker is waited on until every
//! background task has ended.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use super::compose::{self, Built, WriterTask};
use super::shutdown::ShutdownTree;
use super::{data_lock, listen, ops_listener, serve, signals, tls, ReloadingCert};
use crate::audit::{AuditService, Auditor};
use crate::authn::session::Sessions;
use crate::config::Config;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::ops::Readiness;
use crate::policy::reload::PolicyHandle;
use crate::policy::PolicyError;
use crate::revoke::Registry;

/// A running server (see [`spawn`]). Dropping it without [`Running::stop`] cancels
/// every task at once, without draining.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The operations listener's address (`/metrics`, `/healthz`, `/readyz`), unless
    /// `ops.listen` is `off`.
    pub ops_addr: Option<SocketAddr>,
    /// The directory it serves.
    pub directory: Arc<Directory>,
    /// Readiness conditions (`/readyz`); other parts may add theirs.
    pub readiness: Readiness,
    /// The policies in force.
    pub policy: Arc<PolicyHandle>,
    /// Browser sessions.
    pub sessions: Arc<Sessions>,
    /// The audit log's queue.
    pub audit: Auditor,
    /// The instance's metrics.
    pub metrics: Arc<Metrics>,
    /// Live streams (cut on revocation).
    pub registry: Arc<Registry>,
    /// Just-in-time access: requests, approvals and time-bound grants.
    pub access: Arc<crate::access::Access>,
    tls: Option<Arc<ReloadingCert>>,
    tree: ShutdownTree,
    /// What [`Running::stop`] stops in order; `None` once stopped. (In a mutex only so
    /// that `Running` is `Sync`: the watchers are not.)
    stages: parking_lot::Mutex<Option<Stages>>,
}

/// The parts of the tree that stop one after the other.
struct Stages {
    listener: JoinHandle<()>,
    watchers: Vec<Box<dyn std::any::Any + Send>>,
    writer: WriterTask,
    audit: AuditService,
}

/// A count of a server's live background tasks that outlives the server.
#[derive(Clone)]
pub struct LiveTasks(TaskTracker);

impl LiveTasks {
    /// How many background tasks are alive now.
    pub fn count(&self) -> usize {
        self.0.len()
    }
}

impl Running {
    /// Reloads the policies and the TLS certificate: what SIGHUP does. The policies'
    /// outcome is returned (a refused reload keeps the policies in force).
    pub fn reload(&self) -> Result<(), PolicyError> {
        let policies = self.policy.reload();
        if let Some(cert) = &self.tls {
            cert.reload();
        }
        policies
    }

    /// The server's background tasks, counted (zero once [`Running::stop`] returns).
    pub fn live_tasks(&self) -> LiveTasks {
        LiveTasks(self.tree.tracker().clone())
    }

    /// Stops accepting, drains open connections, lets the directory writer and the
    /// audit log finish what is queued, and waits until every background task ended.
    pub async fn stop(mut self) {
        self.tree.begin();
        if let Some(stages) = self.stages.get_mut().take() {
            let _ = stages.listener.await;
            self.tree.listener_drained();
            drop(stages.watchers);
            stages.writer.stop.cancel();
            let _ = stages.writer.task.await;
            stages.audit.shutdown().await;
        }
        self.tree.finish().await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.stages.get_mut().is_some() {
            self.tree.cancel_all();
        }
    }
}

/// Starts a server in the background on the current runtime (tests and benchmarks
/// bind port 0 and read [`Running::addr`]).
pub async fn spawn(config: Config) -> anyhow::Result<Running> {
    let tree = ShutdownTree::new();
    let built = match compose::build(&config, &tree).await {
        Ok(built) => built,
        Err(e) => {
            tree.finish().await;
            return Err(e);
        }
    };
    match start(&config, built, tree.clone()).await {
        Ok(running) => Ok(running),
        Err(e) => {
            tree.finish().await;
            Err(e)
        }
    }
}

/// Binds the listeners of `built` and serves on `tree`.
async fn start(config: &Config, built: Built, tree: ShutdownTree) -> anyhow::Result<Running> {
    let acceptor = built.tls.clone().map(tls::acceptor).transpose()?;
    let listener = listen::bind(config.listen, config.server.listen_backlog)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    listen::announce(config.server.listen_backlog);
    let addr = listener.local_addr()?;
    let ops_addr = ops_listener::start(config, &built, &tree).await?;
    let (dispatch, limits) = (built.dispatch.clone(), config.server.clone());
    let connections = built.handles.metrics.connections.clone();
    let tls_on = acceptor.is_some();
    let listener = tree.spawn_serving(move |stop| async move {
        serve(
            listener,
            acceptor,
            dispatch,
            limits,
            connections,
            async move { stop.cancelled().await },
        )
        .await
    });
    tracing::info!(addr = %addr, tls = tls_on, "scimgate listening");
    let handles = built.handles;
    Ok(Running {
        addr,
        ops_addr,
        directory: handles.dir,
        readiness: built.readiness,
        policy: handles.policy,
        sessions: handles.sessions,
        audit: handles.audit,
        metrics: handles.metrics,
        registry: handles.registry,
        access: handles.access,
        tls: built.tls,
        tree,
        stages: parking_lot::Mutex::new(Some(Stages {
            listener,
            watchers: built.watchers,
            writer: built.writer,
            audit: built.audit,
        })),
    })
}

/// Locks the data directory ([`data_lock`]), starts the server ([`spawn`]) and serves
/// until SIGTERM or SIGINT; SIGHUP reloads ([`Running::reload`]).
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Before the store opens: a second server on this directory would corrupt it.
    let _lock = data_lock::DataDirLock::acquire(&config.data_dir)?;
    // Before the listener is announced: a SIGHUP sent as soon as the server says it is
    // up reloads instead of ending the process.
    let signals = signals::Signals::register();
    let running = spawn(config).await?;
    signals.until_shutdown(&running).await;
    running.stop().await;
    Ok(())
}
