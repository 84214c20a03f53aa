//! The operations listener: `/metrics`, `/healthz` and `/readyz` on their own address
//! (loopback by default), plain HTTP, outside the gate.
//!
//! `/healthz` says the process is alive; `/readyz` runs the [`Readiness`] checks. The
//! main listener serves the same two answers ([`health_routes`]).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use http::{header, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::metrics::{Metrics, CONTENT_TYPE};
use super::readiness::{readyz, Readiness};

/// `/healthz` and `/readyz`.
pub fn health_routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { readyz(&readiness).await }
            }),
        )
}

/// The whole operations application.
pub fn router(metrics: Arc<Metrics>, readiness: Readiness) -> Router {
    health_routes(readiness).route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move {
                match metrics.render() {
                    Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot encode the metrics");
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "cannot encode the metrics\n",
                        )
                            .into_response()
                    }
                }
            }
        }),
    )
}

/// Binds the operations listener.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (ops.listen)"))
}

/// Serves `app` on `listener` until `stop` is cancelled.
pub fn spawn(
    listener: TcpListener,
    app: Router,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the operations listener failed");
        }
    })
}
