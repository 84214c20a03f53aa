//! Websocket tunnels: after a 101, bytes flow both ways between the client's and the
//! upstream's upgraded connections until either side closes or revocation cancels.
//!
//! On cancel both connections are dropped, which closes both sockets; the tunnel task
//! holds the route's concurrency permit for as long as it runs.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

/// Joins the two upgraded connections on a task of its own.
pub(crate) fn spawn(
    client: OnUpgrade,
    upstream: OnUpgrade,
    cancel: CancellationToken,
    permit: super::forward::Held,
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
        let mut client = TokioIo::new(client);
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
        }
    });
}
