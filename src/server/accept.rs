//! The main listener's accept loop: the connection cap, and survival when the process
//! runs out of descriptors.
//!
//! At the cap (`server.max_connections`, bounded by the descriptor limit) a new
//! connection is accepted and closed at once, and counted: the client learns at once
//! that it must come back, and the process never holds more sockets than the cap
//! (stopping accepting instead would park clients in the kernel's backlog with no
//! answer and no trace). An accept that fails for want of resources (EMFILE, ENFILE,
//! ENOBUFS, ENOMEM) is counted and retried after a pause that doubles up to one second,
//! never in a tight loop; the loop never exits on an error. On shutdown the listener
//! closes and open connections drain for up to [`DRAIN`]; those still open then are
//! dropped, so the loop returns only once every connection task has ended.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::conn::{self, Shared, Slot};
use super::limits::descriptor_limit;

/// How long open connections may take to finish after shutdown.
pub const DRAIN: Duration = Duration::from_secs(10);
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Whether an accept error concerns only the connection being accepted (retry at once).
fn per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

/// Accepts on `listener` until `shutdown` resolves, then drains.
pub(super) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let nofile = descriptor_limit();
    let (max, lowered) = shared.limits.effective_max_connections(nofile);
    if lowered {
        tracing::warn!(
            max_connections = max,
            nofile = nofile.unwrap_or(0),
            "server.max_connections lowered to fit the open-descriptor limit (raise `ulimit -n`)"
        );
    }
    tracing::info!(
        max_connections = max,
        nofile = nofile.unwrap_or(0),
        "connection cap in force"
    );
    let metrics = shared.metrics.clone();
    metrics.set_max(max);
    let slots = Arc::new(Semaphore::new(max));
    let (drain_tx, drain_rx) = watch::channel(false);
    // Every connection runs on this tracker; `dropped` ends those still open at DRAIN.
    let connections = TaskTracker::new();
    let dropped = CancellationToken::new();
    let mut backoff = Duration::ZERO;
    let mut at_cap = false;
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff = Duration::ZERO;
                    a
                }
                Err(e) if per_connection(&e) => continue,
                Err(e) => {
                    metrics.accept_error();
                    backoff = (backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                    tracing::warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed; pausing");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics.refused();
            if !at_cap {
                at_cap = true;
                tracing::warn!(
                    max_connections = max,
                    "connection cap reached; refusing new connections"
                );
            }
            drop(tcp);
            tracing::debug!(%peer, "connection refused at the cap");
            continue;
        };
        at_cap = false;
        let slot = Slot::new(permit, metrics.clone());
        // Boxed: the task's future keeps its upvar and `select!`'s copy apart, so an
        // unboxed connection future would be held twice for the life of the connection.
        let connection = Box::pin(conn::run(tcp, peer, shared.clone(), slot, drain_rx.clone()));
        let dropped = dropped.clone();
        connections.spawn(async move {
            tokio::select! {
                () = connection => {}
                () = dropped.cancelled() => {}
            }
        });
    }
    drop(listener);
    drop(drain_rx);
    let _ = drain_tx.send(true);
    connections.close();
    tokio::select! {
        () = connections.wait() => tracing::info!("connections drained"),
        () = tokio::time::sleep(DRAIN) => {
            tracing::warn!(open = connections.len(), "drain timed out; closing");
            dropped.cancel();
            connections.wait().await;
        }
    }
}
