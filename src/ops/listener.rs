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
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::readiness::{readyz, Readiness};
use crate::metrics::{Metrics, CONTENT_TYPE};

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

/// Most connections the operations listener holds at once (more are closed at once).
pub const OPS_MAX_CONNECTIONS: usize = 64;
/// How long one operations connection may stay open, whatever it does (a scraper
/// reconnects; a silent or slow client is dropped).
pub const OPS_CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `stop` is cancelled: at most
/// [`OPS_MAX_CONNECTIONS`] connections, each for at most [`OPS_CONNECTION_LIFETIME`],
/// so that the operations listener can neither be held open nor spend the process's
/// descriptors. Failed accepts (out of descriptors) pause the loop, never end it. Ends
/// once every connection has closed (each ends at `stop`); the caller spawns it.
pub async fn serve(listener: TcpListener, app: Router, stop: CancellationToken) {
    let connections = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(OPS_MAX_CONNECTIONS));
    let mut pause = Duration::from_millis(10);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    tracing::warn!(error = %e, "the operations listener cannot accept; pausing");
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = stop.cancelled() => break,
                    }
                    pause = (pause * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        pause = Duration::from_millis(10);
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            drop(tcp);
            continue;
        };
        let service = TowerToHyperService::new(app.clone());
        let stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(OPS_CONNECTION_LIFETIME);
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            tokio::select! {
                _ = tokio::time::timeout(OPS_CONNECTION_LIFETIME, conn) => {}
                () = stop.cancelled() => {}
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}
