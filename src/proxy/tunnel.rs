//! Websocket tunnels: after a 101, bytes flow both ways between the client's and the
//! upstream's upgraded connections until either side closes, revocation cancels, or
//! nothing has moved either way for the route's `websocket_idle` timeout.
//!
//! On cancel both connections are dropped, which closes both sockets; the tunnel task
//! holds the route's concurrency permit for as long as it runs, so the idle bound is
//! what keeps a silent websocket from holding a `max_concurrency` slot for ever.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use super::idle::{quiet_for, Activity};
use crate::ops::connections::{CloseReason, ConnectionMetrics};

/// The tunnel's idle bound.
pub(crate) struct Idle {
    pub limit: Duration,
    /// Where a closure for idleness is counted.
    pub metrics: Option<Arc<ConnectionMetrics>>,
}

/// Joins the two upgraded connections on a task of its own.
pub(crate) fn spawn(
    client: OnUpgrade,
    upstream: OnUpgrade,
    cancel: CancellationToken,
    permit: super::forward::Held,
    idle: Idle,
) {
    tokio::spawn(async move {
        let _permit = permit;
        let joined = tokio::select! {
            joined = futures_util::future::try_join(client, upstream) => joined,
            () = cancel.cancelled() => return,
        };
        let (client, upstream) = match joined {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade did not complete");
                return;
            }
        };
        let base = tokio::time::Instant::now();
        let last = Arc::new(AtomicU64::new(0));
        let mut client = Activity::new(TokioIo::new(client), base, last.clone());
        let mut upstream = TokioIo::new(upstream);
        tokio::select! {
            copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                if let Err(e) = copied {
                    tracing::debug!(error = %e, "websocket tunnel ended with an error");
                }
            }
            () = cancel.cancelled() => {
                tracing::debug!("websocket tunnel cancelled");
            }
            () = quiet_for(base, &last, idle.limit) => {
                tracing::info!("websocket tunnel closed: idle");
                if let Some(m) = &idle.metrics {
                    m.closed(CloseReason::WebsocketIdle);
                }
            }
        }
    });
}
