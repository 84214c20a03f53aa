//! Binding and starting the operations listener (`/metrics`, `/healthz`, `/readyz`).

use std::net::SocketAddr;

use super::compose::Built;
use super::shutdown::ShutdownTree;
use crate::config::Config;
use crate::ops;

/// Binds and starts the operations listener on `tree` (its drained branch), if
/// configured. A default
/// address that is taken is a warning (another instance on this host); a configured
/// one is an error.
pub(super) async fn start(
    config: &Config,
    built: &Built,
    tree: &ShutdownTree,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(addr) = config.ops.listen else {
        return Ok(None);
    };
    let listener = match ops::listener::bind(addr).await {
        Ok(l) => l,
        Err(e) if !config.ops.explicit => {
            tracing::warn!(error = %format!("{e:#}"), "no operations listener (set ops.listen)");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let bound = listener.local_addr()?;
    let app = ops::listener::router(built.handles.metrics.clone(), built.readiness.clone());
    // Health and metrics answer until the main listener has drained.
    let stop = tree.drained_token();
    tree.tracker()
        .spawn(ops::listener::serve(listener, app, stop));
    tracing::info!(addr = %bound, "operations listener (metrics, health) listening");
    Ok(Some(bound))
}
