//! Upstream connection metrics, all routes together: connections open, the cap in
//! force (`server.max_upstream_connections`), new connections that had to wait for a
//! free place under the cap, and those that found none in time.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The process's upstream connection metrics.
#[derive(Debug, Default)]
pub struct UpstreamConnectionMetrics {
    open: Gauge,
    max: Gauge,
    waited: Counter,
    refused: Counter,
}

impl UpstreamConnectionMetrics {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "upstream_connections_open",
            "Upstream connections open (in use or idle in a pool), all routes together.",
            self.open.clone(),
        );
        registry.register(
            "upstream_connections_max",
            "The upstream connection cap in force (server.max_upstream_connections, bounded by the descriptor limit).",
            self.max.clone(),
        );
        registry.register(
            "upstream_connection_waits",
            "New upstream connections that waited because the cap was reached.",
            self.waited.clone(),
        );
        registry.register(
            "upstream_connections_refused",
            "New upstream connections given up because the cap stayed reached for the route's connect timeout.",
            self.refused.clone(),
        );
    }

    /// An upstream connection was opened.
    pub fn opened(&self) {
        self.open.inc();
    }

    /// An upstream connection opened with [`Self::opened`] was closed.
    pub fn closed(&self) {
        self.open.dec();
    }

    /// Upstream connections open now.
    pub fn open_now(&self) -> i64 {
        self.open.get()
    }

    /// Notes the cap in force.
    pub fn set_max(&self, max: usize) {
        self.max.set(i64::try_from(max).unwrap_or(i64::MAX));
    }

    /// A new connection found the cap reached and waits.
    pub fn waited(&self) {
        self.waited.inc();
    }

    /// A new connection found no place under the cap in time.
    pub fn refused(&self) {
        self.refused.inc();
    }

    /// Connections that waited at the cap so far.
    pub fn waited_count(&self) -> u64 {
        self.waited.get()
    }

    /// Connections given up at the cap so far.
    pub fn refused_count(&self) -> u64 {
        self.refused.get()
    }
}
