//! What the process lets the listener spend: the open-descriptor limit, from which
//! the connection cap is derived when `server.max_connections` is not written (the
//! `server:` section itself is [`crate::config::server`]), and the upstream connection
//! cap derived from what the client connections leave of it.

use std::sync::Arc;

use crate::config::server::ServerLimits;
use crate::metrics::upstream_connections::UpstreamConnectionMetrics;
use crate::proxy::connection_cap::UpstreamLimits;

/// The soft open-descriptor limit of this process, when the platform tells.
pub fn descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The upstream connection cap and pool bounds every route client shares, from
/// `server:` and the descriptor limit (a written cap too large for it is lowered, with
/// a warning).
pub fn upstream_limits(
    limits: &ServerLimits,
    metrics: Arc<UpstreamConnectionMetrics>,
) -> UpstreamLimits {
    let nofile = descriptor_limit();
    let (max, lowered) = limits.effective_max_upstream_connections(nofile);
    if lowered {
        tracing::warn!(
            max_upstream_connections = max,
            nofile = nofile.unwrap_or(0),
            "server.max_upstream_connections lowered to fit the open-descriptor limit beside the client connections (raise `ulimit -n`)"
        );
    }
    tracing::info!(
        max_upstream_connections = max,
        upstream_idle_per_host = limits.upstream_idle_per_host,
        nofile = nofile.unwrap_or(0),
        "upstream connection cap in force"
    );
    UpstreamLimits::new(max, limits.upstream_idle_per_host, metrics)
}
