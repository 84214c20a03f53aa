//! Websocket tunnels: after a 101, bytes flow both ways between the client's and the
//! upstream's upgraded connections until either side closes, revocation cancels, or
//! nothing has moved either way for the route's `websocket_idle` timeout.
//!
//! On cancel both connections are dropped, which closes both sockets; the tunnel task
//! holds the route's concurrency permit for as long as it runs, so the idle bound is
//! what keeps a silent websocket from holding a `max_concurrency` slot for ever.
//!
//! A tunnel is opened only when the client asked for a websocket (see
//! [`super::headers::is_websocket_upgrade`]) and the upstream's 101 selected exactly
//! that ([`decide`]); any other 101 is refused with 502, since the bytes after it
//! would be a protocol (h2c, say) that carries requests the gate never judged.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::idle::{quiet_for, Activity};
use crate::metrics::connections::{CloseReason, ConnectionMetrics};

/// What to do with the upstream's answer to a forwarded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// Not a 101: an ordinary response.
    No,
    /// A 101 to the websocket the client asked for: open the tunnel.
    Tunnel,
    /// A 101 nobody asked for, or to another protocol: 502.
    Refuse,
}

/// Decides on a response head; `asked_websocket` says whether the request was forwarded
/// as a websocket upgrade.
pub(crate) fn decide(asked_websocket: bool, status: StatusCode, headers: &HeaderMap) -> Switch {
    if status != StatusCode::SWITCHING_PROTOCOLS {
        return Switch::No;
    }
    if asked_websocket && super::headers::only_websocket(headers) {
        Switch::Tunnel
    } else {
        Switch::Refuse
    }
}

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
    cancel: crate::revoke::StreamCancel,
    permit: super::forward::Held,
    idle: Idle,
) {
    // Request-scoped, outside the shutdown tree: it ends with either side of the
    // tunnel, its idle bound, or `cancel` (the live stream's token: revocation, and
    // the server's shutdown once its listener has drained).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::UPGRADE, value.parse().unwrap());
        h
    }

    #[test]
    fn only_a_101_to_the_asked_websocket_is_tunnelled() {
        let ws = upgrade("websocket");
        let s101 = StatusCode::SWITCHING_PROTOCOLS;
        assert_eq!(decide(true, s101, &ws), Switch::Tunnel);
        assert_eq!(decide(true, s101, &upgrade("WebSocket")), Switch::Tunnel);
        assert_eq!(decide(true, s101, &upgrade("h2c")), Switch::Refuse);
        assert_eq!(
            decide(true, s101, &upgrade("websocket, h2c")),
            Switch::Refuse
        );
        assert_eq!(decide(true, s101, &HeaderMap::new()), Switch::Refuse);
        // A 101 to a request that was not forwarded as an upgrade.
        assert_eq!(decide(false, s101, &ws), Switch::Refuse);
        assert_eq!(decide(true, StatusCode::OK, &ws), Switch::No);
        assert_eq!(decide(false, StatusCode::OK, &ws), Switch::No);
    }
}
