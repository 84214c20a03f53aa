//! The `server:` section: what one client connection may cost.
//!
//! Every bound a stranger can make the listener spend has a setting here with a safe
//! default: how many connections are open at once (`max_connections`, derived from the
//! process's descriptor limit when not written), how long a connection may stay silent
//! before its protocol is known, how long a request head may take, how long an idle
//! HTTP/1 or HTTP/2 connection is kept, the HTTP/2 keep-alive pings, the TLS handshake,
//! and how long a proxied body or websocket may make no progress before it is cut (the
//! global default of the routes' `timeouts.stream_idle` / `timeouts.websocket_idle`),
//! and the kernel's queue of connections waiting to be accepted (`listen_backlog`).
//! Upstream connections cost descriptors too: all routes together open at most
//! `max_upstream_connections` (derived from what the descriptor limit leaves after the
//! client connections), and each upstream host keeps at most `upstream_idle_per_host`
//! idle ones for reuse.

use std::time::Duration;

use serde::Deserialize;

use super::error::{Checker, ConfigError};

/// Most connections accepted by default, whatever the descriptor limit allows.
pub const DEFAULT_MAX_CONNECTIONS_CEILING: usize = 4096;
/// Descriptors kept back from the connection cap for the store, the ops listener,
/// watchers, logs and the like (besides one upstream connection per client connection).
pub const RESERVED_DESCRIPTORS: u64 = 128;
/// The least a derived connection cap is, however low the descriptor limit.
pub const MIN_DERIVED_CONNECTIONS: usize = 16;
/// Connections the kernel queues for the accept loop by default (Linux lowers it to
/// `net.core.somaxconn`, 4096 on current kernels).
pub const DEFAULT_LISTEN_BACKLOG: u32 = 4096;
/// The most `server.listen_backlog` may be written as.
pub const MAX_LISTEN_BACKLOG: u32 = 65_535;
/// Idle upstream connections each upstream host keeps by default, per route client:
/// enough to reuse connections under a steady 64 requests in flight to one upstream
/// (nginx's `keepalive 64` in the proxy benchmark), few enough that idle ones, each a
/// descriptor and its buffers, cannot take a large share of the upstream cap.
pub const DEFAULT_UPSTREAM_IDLE_PER_HOST: usize = 64;
/// The most `server.upstream_idle_per_host` may be written as.
pub const MAX_UPSTREAM_IDLE_PER_HOST: u64 = 65_535;

pub const DEFAULT_DETECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_HTTP1_IDLE_TIMEOUT: Duration = Duration::from_secs(15);
pub const DEFAULT_HTTP2_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_HTTP2_PING_INTERVAL: Duration = Duration::from_secs(20);
pub const DEFAULT_HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(20);
pub const DEFAULT_HTTP2_MAX_STREAMS: u32 = 100;
pub const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_WEBSOCKET_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// `server:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServerLimits {
    max_connections: Option<u64>,
    max_upstream_connections: Option<u64>,
    upstream_idle_per_host: Option<u64>,
    listen_backlog: Option<u32>,
    detect_timeout_seconds: Option<f64>,
    header_read_timeout_seconds: Option<f64>,
    tls_handshake_timeout_seconds: Option<f64>,
    http1_idle_timeout_seconds: Option<f64>,
    http2_idle_timeout_seconds: Option<f64>,
    http2_ping_interval_seconds: Option<f64>,
    http2_ping_timeout_seconds: Option<f64>,
    http2_max_streams: Option<u32>,
    stream_idle_timeout_seconds: Option<f64>,
    websocket_idle_timeout_seconds: Option<f64>,
}

/// The validated `server:` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerLimits {
    /// Most client connections open at once on the main listener; `None`: derived
    /// from the descriptor limit at start ([`ServerLimits::effective_max_connections`]).
    pub max_connections: Option<usize>,
    /// Most upstream connections open at once, all routes together (each holds a
    /// descriptor); `None`: derived at start
    /// ([`ServerLimits::effective_max_upstream_connections`]).
    pub max_upstream_connections: Option<usize>,
    /// Idle upstream connections kept for reuse per upstream host and route client; 0
    /// keeps none.
    pub upstream_idle_per_host: usize,
    /// Length of the main listener's accept queue (`listen(2)` backlog): connections
    /// the kernel completes before the accept loop takes them. Too short a queue makes
    /// the kernel drop handshakes under a burst.
    pub listen_backlog: u32,
    /// From accept (after the TLS handshake) until the protocol is known: the first
    /// bytes of an HTTP/1 request, or the whole 24-byte HTTP/2 preface.
    pub detect_timeout: Duration,
    /// For an HTTP/1 request head to arrive, counted from when the connection waits
    /// for it (so it also bounds a keep-alive connection between requests).
    pub header_read_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    /// An HTTP/1 connection with no request in progress is closed after this.
    pub http1_idle_timeout: Duration,
    /// An HTTP/2 connection with no stream in progress is sent GOAWAY after this.
    pub http2_idle_timeout: Duration,
    /// HTTP/2 PING interval and how long an answer may take before the connection is
    /// closed (a peer that vanished).
    pub http2_ping_interval: Duration,
    pub http2_ping_timeout: Duration,
    /// Concurrent streams one HTTP/2 connection may open.
    pub http2_max_streams: u32,
    /// The default of the routes' `timeouts.stream_idle`: a proxied body that the
    /// client neither reads (response) nor sends (request) for this long is cut.
    pub stream_idle_timeout: Duration,
    /// The default of the routes' `timeouts.websocket_idle`: a websocket tunnel with
    /// no byte either way for this long is closed.
    pub websocket_idle_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: None,
            max_upstream_connections: None,
            upstream_idle_per_host: DEFAULT_UPSTREAM_IDLE_PER_HOST,
            listen_backlog: DEFAULT_LISTEN_BACKLOG,
            detect_timeout: DEFAULT_DETECT_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            http1_idle_timeout: DEFAULT_HTTP1_IDLE_TIMEOUT,
            http2_idle_timeout: DEFAULT_HTTP2_IDLE_TIMEOUT,
            http2_ping_interval: DEFAULT_HTTP2_PING_INTERVAL,
            http2_ping_timeout: DEFAULT_HTTP2_PING_TIMEOUT,
            http2_max_streams: DEFAULT_HTTP2_MAX_STREAMS,
            stream_idle_timeout: DEFAULT_STREAM_IDLE_TIMEOUT,
            websocket_idle_timeout: DEFAULT_WEBSOCKET_IDLE_TIMEOUT,
        }
    }
}

impl RawServerLimits {
    /// Checks the section.
    pub fn validate(self, check: Checker<'_>) -> Result<ServerLimits, ConfigError> {
        Ok(ServerLimits {
            max_connections: self
                .max_connections
                .map(|n| check.at_least("server.max_connections", Some(n), 1, n))
                .transpose()?
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            max_upstream_connections: self
                .max_upstream_connections
                .map(|n| check.at_least("server.max_upstream_connections", Some(n), 1, n))
                .transpose()?
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            upstream_idle_per_host: check
                .between(
                    "server.upstream_idle_per_host",
                    self.upstream_idle_per_host,
                    (0, MAX_UPSTREAM_IDLE_PER_HOST),
                    DEFAULT_UPSTREAM_IDLE_PER_HOST as u64,
                )
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))?,
            listen_backlog: check.between(
                "server.listen_backlog",
                self.listen_backlog,
                (1, MAX_LISTEN_BACKLOG),
                DEFAULT_LISTEN_BACKLOG,
            )?,
            detect_timeout: check.seconds(
                "server.detect_timeout_seconds",
                self.detect_timeout_seconds,
                DEFAULT_DETECT_TIMEOUT,
            )?,
            header_read_timeout: check.seconds(
                "server.header_read_timeout_seconds",
                self.header_read_timeout_seconds,
                DEFAULT_HEADER_READ_TIMEOUT,
            )?,
            tls_handshake_timeout: check.seconds(
                "server.tls_handshake_timeout_seconds",
                self.tls_handshake_timeout_seconds,
                DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            )?,
            http1_idle_timeout: check.seconds(
                "server.http1_idle_timeout_seconds",
                self.http1_idle_timeout_seconds,
                DEFAULT_HTTP1_IDLE_TIMEOUT,
            )?,
            http2_idle_timeout: check.seconds(
                "server.http2_idle_timeout_seconds",
                self.http2_idle_timeout_seconds,
                DEFAULT_HTTP2_IDLE_TIMEOUT,
            )?,
            http2_ping_interval: check.seconds(
                "server.http2_ping_interval_seconds",
                self.http2_ping_interval_seconds,
                DEFAULT_HTTP2_PING_INTERVAL,
            )?,
            http2_ping_timeout: check.seconds(
                "server.http2_ping_timeout_seconds",
                self.http2_ping_timeout_seconds,
                DEFAULT_HTTP2_PING_TIMEOUT,
            )?,
            http2_max_streams: check.at_least(
                "server.http2_max_streams",
                self.http2_max_streams,
                1,
                DEFAULT_HTTP2_MAX_STREAMS,
            )?,
            stream_idle_timeout: check.seconds(
                "server.stream_idle_timeout_seconds",
                self.stream_idle_timeout_seconds,
                DEFAULT_STREAM_IDLE_TIMEOUT,
            )?,
            websocket_idle_timeout: check.seconds(
                "server.websocket_idle_timeout_seconds",
                self.websocket_idle_timeout_seconds,
                DEFAULT_WEBSOCKET_IDLE_TIMEOUT,
            )?,
        })
    }
}

impl ServerLimits {
    /// The connection cap in force given the process's open-descriptor limit
    /// (`nofile`, the soft RLIMIT_NOFILE; `None` when unknown): half of what is left
    /// after [`RESERVED_DESCRIPTORS`] (each client connection may need an upstream
    /// one), at least [`MIN_DERIVED_CONNECTIONS`]. A configured value above that is
    /// lowered to it; the bool says whether it was.
    pub fn effective_max_connections(&self, nofile: Option<u64>) -> (usize, bool) {
        let room = nofile.map(|n| {
            let half = n.saturating_sub(RESERVED_DESCRIPTORS) / 2;
            usize::try_from(half)
                .unwrap_or(usize::MAX)
                .max(MIN_DERIVED_CONNECTIONS)
        });
        match (self.max_connections, room) {
            (Some(n), Some(room)) if n > room => (room, true),
            (Some(n), _) => (n, false),
            (None, Some(room)) => (room.min(DEFAULT_MAX_CONNECTIONS_CEILING), false),
            (None, None) => (DEFAULT_MAX_CONNECTIONS_CEILING, false),
        }
    }

    /// The upstream connection cap in force, all routes together, given the
    /// descriptor limit: what is left after [`RESERVED_DESCRIPTORS`] and the client
    /// connections of [`Self::effective_max_connections`], at least
    /// [`MIN_DERIVED_CONNECTIONS`]; as many as the client connections when the limit is
    /// unknown. A configured value above that room is lowered to it; the bool says
    /// whether it was.
    pub fn effective_max_upstream_connections(&self, nofile: Option<u64>) -> (usize, bool) {
        let (clients, _) = self.effective_max_connections(nofile);
        let room = nofile.map(|n| {
            let left = n
                .saturating_sub(RESERVED_DESCRIPTORS)
                .saturating_sub(u64::try_from(clients).unwrap_or(u64::MAX));
            usize::try_from(left)
                .unwrap_or(usize::MAX)
                .max(MIN_DERIVED_CONNECTIONS)
        });
        match (self.max_upstream_connections, room) {
            (Some(n), Some(room)) if n > room => (room, true),
            (Some(n), _) => (n, false),
            (None, Some(room)) => (room, false),
            (None, None) => (clients, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> Result<ServerLimits, ConfigError> {
        let raw: RawServerLimits = serde_saphyr::from_str(yaml).unwrap();
        raw.validate(Checker::new("f.yaml"))
    }

    #[test]
    fn defaults_and_written_values() {
        assert_eq!(check("{}").unwrap(), ServerLimits::default());
        let l = check(
            "max_connections: 50\nlisten_backlog: 512\ndetect_timeout_seconds: 0.5\nhttp2_max_streams: 8",
        )
        .unwrap();
        assert_eq!(l.max_connections, Some(50));
        assert_eq!(l.listen_backlog, 512);
        assert_eq!(l.detect_timeout, Duration::from_millis(500));
        assert_eq!(l.http2_max_streams, 8);
        let l = check("max_upstream_connections: 300\nupstream_idle_per_host: 0").unwrap();
        assert_eq!(l.max_upstream_connections, Some(300));
        assert_eq!(l.upstream_idle_per_host, 0);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (yaml, key) in [
            ("max_connections: 0", "server.max_connections"),
            ("listen_backlog: 0", "server.listen_backlog"),
            ("listen_backlog: 70000", "server.listen_backlog"),
            ("detect_timeout_seconds: 0", "server.detect_timeout_seconds"),
            (
                "stream_idle_timeout_seconds: -1",
                "server.stream_idle_timeout_seconds",
            ),
            ("http2_max_streams: 0", "server.http2_max_streams"),
            (
                "max_upstream_connections: 0",
                "server.max_upstream_connections",
            ),
            (
                "upstream_idle_per_host: 70000",
                "server.upstream_idle_per_host",
            ),
        ] {
            let e = check(yaml).unwrap_err().to_string();
            assert!(e.starts_with(&format!("f.yaml: {key}: ")), "{e}");
        }
    }

    #[test]
    fn the_cap_leaves_room_under_the_descriptor_limit() {
        let derived = ServerLimits::default();
        assert_eq!(derived.effective_max_connections(Some(1024)), (448, false));
        assert_eq!(
            derived.effective_max_connections(Some(1 << 20)),
            (DEFAULT_MAX_CONNECTIONS_CEILING, false)
        );
        assert_eq!(
            derived.effective_max_connections(Some(64)),
            (MIN_DERIVED_CONNECTIONS, false)
        );
        let written = ServerLimits {
            max_connections: Some(10_000),
            ..ServerLimits::default()
        };
        assert_eq!(written.effective_max_connections(Some(1024)), (448, true));
        assert_eq!(
            written.effective_max_connections(Some(1 << 20)),
            (10_000, false)
        );
    }

    #[test]
    fn upstream_connections_take_what_the_clients_leave() {
        let derived = ServerLimits::default();
        // 1024 descriptors: 128 reserved, 448 client connections, 448 upstream ones.
        assert_eq!(
            derived.effective_max_upstream_connections(Some(1024)),
            (448, false)
        );
        // Many descriptors: the client cap stops at its ceiling, upstreams get the rest.
        assert_eq!(
            derived.effective_max_upstream_connections(Some(20_000)),
            (20_000 - 128 - DEFAULT_MAX_CONNECTIONS_CEILING, false)
        );
        assert_eq!(
            derived.effective_max_upstream_connections(None),
            (DEFAULT_MAX_CONNECTIONS_CEILING, false)
        );
        assert_eq!(
            derived.effective_max_upstream_connections(Some(64)),
            (MIN_DERIVED_CONNECTIONS, false)
        );
        let written = ServerLimits {
            max_connections: Some(100),
            max_upstream_connections: Some(5_000),
            ..ServerLimits::default()
        };
        assert_eq!(
            written.effective_max_upstream_connections(Some(1024)),
            (1024 - 128 - 100, true)
        );
        assert_eq!(
            written.effective_max_upstream_connections(Some(1 << 20)),
            (5_000, false)
        );
        assert_eq!(
            written.effective_max_upstream_connections(None),
            (5_000, false)
        );
    }
}
