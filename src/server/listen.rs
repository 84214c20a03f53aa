//! Opening the main listener with an explicit accept backlog.
//!
//! The backlog is the kernel's queue of connections it has completed (or is
//! completing) for the accept loop. When a burst of connects outruns it, Linux drops
//! the SYN (the client retries after 1, 2, 4... seconds) or, with SYN cookies, answers
//! with a cookie and then drops the client's final ACK while the queue is full: the
//! client believes it is connected, the server never sees the connection, and a client
//! that sends nothing never learns. Tokio's `TcpListener::bind` asks for a backlog of
//! 128, far below what one burst of connects brings, so the listener is opened here
//! with `server.listen_backlog` (the kernel lowers it to `net.core.somaxconn`).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Binds `addr` with `SO_REUSEADDR` (as `TcpListener::bind` does on Unix) and listens
/// with `backlog`.
pub(super) fn bind(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

/// The backlog the kernel grants for `requested`: Linux caps it at
/// `net.core.somaxconn` (`None` where that cannot be read).
pub(super) fn granted_backlog(requested: u32) -> Option<u32> {
    let text = std::fs::read_to_string("/proc/sys/net/core/somaxconn").ok()?;
    let somaxconn: u32 = text.trim().parse().ok()?;
    Some(requested.min(somaxconn))
}

/// Logs the backlog in force, warning when the kernel lowers it.
pub(super) fn announce(requested: u32) {
    match granted_backlog(requested) {
        Some(granted) if granted < requested => tracing::warn!(
            listen_backlog = granted,
            requested,
            "server.listen_backlog lowered by the kernel (raise net.core.somaxconn)"
        ),
        Some(granted) => tracing::info!(listen_backlog = granted, "accept queue length"),
        None => tracing::info!(listen_backlog = requested, "accept queue length requested"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_listener_accepts_and_the_backlog_is_capped_by_the_kernel() {
        let listener = bind("127.0.0.1:0".parse().unwrap(), 64).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::net::TcpStream::connect(addr);
        let (accepted, connected) = tokio::join!(listener.accept(), client);
        assert!(accepted.is_ok() && connected.is_ok());
        if let Some(granted) = granted_backlog(u32::MAX) {
            assert!(granted < u32::MAX);
            assert_eq!(granted_backlog(1), Some(1));
        }
    }
}
