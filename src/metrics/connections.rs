//! Connection metrics of the main listener: connections open, the cap in force,
//! connections refused at the cap, accept errors, and connections (or streams) closed
//! by each bound, labelled with a fixed word ([`CloseReason`]).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Why the server ended a connection or a stream before the client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Nothing (or only part of the HTTP/2 preface) arrived within `detect_timeout`.
    Detect,
    /// The TLS handshake did not finish within `tls_handshake_timeout`.
    TlsHandshake,
    /// An HTTP/1 request head did not arrive within `header_read_timeout`.
    HeaderRead,
    /// An HTTP/1 connection stayed without a request past `http1_idle_timeout`.
    Http1Idle,
    /// An HTTP/2 connection stayed without a stream past `http2_idle_timeout`.
    Http2Idle,
    /// An HTTP/2 peer did not answer a keep-alive PING in time.
    Http2Ping,
    /// A proxied body made no progress for the route's `stream_idle` timeout.
    StreamIdle,
    /// A websocket tunnel carried nothing for the route's `websocket_idle` timeout.
    WebsocketIdle,
}

impl CloseReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Detect => "detect",
            CloseReason::TlsHandshake => "tls_handshake",
            CloseReason::HeaderRead => "header_read",
            CloseReason::Http1Idle => "http1_idle",
            CloseReason::Http2Idle => "http2_idle",
            CloseReason::Http2Ping => "http2_ping",
            CloseReason::StreamIdle => "stream_idle",
            CloseReason::WebsocketIdle => "websocket_idle",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

/// The main listener's connection metrics.
#[derive(Debug, Default)]
pub struct ConnectionMetrics {
    open: Gauge,
    max: Gauge,
    refused: Counter,
    accept_errors: Counter,
    closed: Family<ReasonLabel, Counter>,
}

impl ConnectionMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "connections_open",
            "Client connections open on the main listener.",
            self.open.clone(),
        );
        registry.register(
            "connections_max",
            "The connection cap in force (server.max_connections, bounded by the descriptor limit).",
            self.max.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed at once because the cap was reached.",
            self.refused.clone(),
        );
        registry.register(
            "accept_errors",
            "Failed accepts on the main listener (e.g. out of descriptors); the loop backs off.",
            self.accept_errors.clone(),
        );
        registry.register(
            "connections_closed",
            "Connections and streams the server closed because a bound was reached, by reason.",
            self.closed.clone(),
        );
    }

    /// A connection was opened.
    pub fn opened(&self) {
        self.open.inc();
    }

    /// A connection opened with [`Self::opened`] ended.
    pub fn ended(&self) {
        self.open.dec();
    }

    /// Connections open now.
    pub fn open_now(&self) -> i64 {
        self.open.get()
    }

    /// Notes the cap in force.
    pub fn set_max(&self, max: usize) {
        self.max.set(i64::try_from(max).unwrap_or(i64::MAX));
    }

    /// A connection was refused at the cap.
    pub fn refused(&self) {
        self.refused.inc();
    }

    /// An accept failed.
    pub fn accept_error(&self) {
        self.accept_errors.inc();
    }

    /// A connection or stream was closed for `reason`.
    pub fn closed(&self, reason: CloseReason) {
        self.closed
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Connections and streams closed for `reason` so far.
    pub fn closed_count(&self, reason: CloseReason) -> u64 {
        self.closed
            .get_or_create(&ReasonLabel {
                reason: reason.as_str(),
            })
            .get()
    }
}
