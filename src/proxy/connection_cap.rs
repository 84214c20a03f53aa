//! The process's upstream connection cap and the pool bounds every route client
//! shares ([`UpstreamLimits`]).
//!
//! Descriptors are per process, so all routes' clients (the pooled one and the
//! HTTP/1.1 one for websocket upgrades) open their connections through one
//! [`ConnectionCap`]: [`CappedConnector`] takes a place (an owned semaphore permit)
//! before it connects, and the connection's IO ([`CappedIo`]) holds it until it is
//! dropped, whether the connection was in use, idle in a pool or a websocket tunnel.
//! At the cap a new connection waits for a place up to the route's connect timeout,
//! then fails with [`ConnectionCapReached`] (503 through `gate::error`). Each wait and
//! each refusal is counted (`scimgate_upstream_connection_waits_total`,
//! `scimgate_upstream_connections_refused_total`); the first wait after the cap was
//! last free writes one warning.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::upstream_connections::UpstreamConnectionMetrics;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What every route client is built with: the shared cap and the idle bound per host.
#[derive(Debug, Clone)]
pub struct UpstreamLimits {
    pub cap: Arc<ConnectionCap>,
    /// Idle connections each client keeps per upstream host (`pool_max_idle_per_host`).
    pub idle_per_host: usize,
}

impl UpstreamLimits {
    /// `max` upstream connections in all, `idle_per_host` idle ones per host.
    pub fn new(max: usize, idle_per_host: usize, metrics: Arc<UpstreamConnectionMetrics>) -> Self {
        UpstreamLimits {
            cap: Arc::new(ConnectionCap::new(max, metrics)),
            idle_per_host,
        }
    }
}

/// The places under the process's upstream connection cap.
#[derive(Debug)]
pub struct ConnectionCap {
    places: Arc<Semaphore>,
    max: usize,
    metrics: Arc<UpstreamConnectionMetrics>,
    /// Whether a connection waited since one last found a place at once (one
    /// warning per time the cap is reached).
    at_cap: AtomicBool,
}

/// No place under the upstream connection cap within the route's connect timeout.
#[derive(Debug, thiserror::Error)]
#[error("the upstream connection cap ({max}) stayed reached for {waited:?}")]
pub struct ConnectionCapReached {
    pub max: usize,
    pub waited: Duration,
}

impl ConnectionCap {
    /// A cap of `max` connections (at least one).
    pub fn new(max: usize, metrics: Arc<UpstreamConnectionMetrics>) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        metrics.set_max(max);
        ConnectionCap {
            places: Arc::new(Semaphore::new(max)),
            max,
            metrics,
            at_cap: AtomicBool::new(false),
        }
    }

    /// The cap in force.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Places free now.
    pub fn available(&self) -> usize {
        self.places.available_permits()
    }

    /// A place for a new connection to `host`, waiting up to `wait` at the cap.
    async fn place(&self, wait: Duration, host: &str) -> Result<Place, ConnectionCapReached> {
        if let Ok(permit) = self.places.clone().try_acquire_owned() {
            self.at_cap.store(false, Ordering::Relaxed);
            return Ok(Place::new(permit, self.metrics.clone()));
        }
        self.metrics.waited();
        if !self.at_cap.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                max_upstream_connections = self.max,
                upstream = host,
                "upstream connection cap reached; new upstream connections wait (server.max_upstream_connections)"
            );
        }
        match tokio::time::timeout(wait, self.places.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Place::new(permit, self.metrics.clone())),
            // The semaphore is never closed; a closed one counts as the cap reached.
            Ok(Err(_)) | Err(_) => {
                self.metrics.refused();
                tracing::debug!(
                    upstream = host,
                    "no place under the upstream connection cap in time"
                );
                Err(ConnectionCapReached {
                    max: self.max,
                    waited: wait,
                })
            }
        }
    }
}

/// One connection's place under the cap, counted as open while held.
#[derive(Debug)]
struct Place {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<UpstreamConnectionMetrics>,
}

impl Place {
    fn new(permit: OwnedSemaphorePermit, metrics: Arc<UpstreamConnectionMetrics>) -> Self {
        metrics.opened();
        Place {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.metrics.closed();
    }
}

/// A connector whose connections each hold a place under the cap.
#[derive(Debug, Clone)]
pub struct CappedConnector<C> {
    inner: C,
    cap: Arc<ConnectionCap>,
    /// How long a new connection waits for a place: the route's connect timeout.
    wait: Duration,
}

impl<C> CappedConnector<C> {
    pub fn new(inner: C, cap: Arc<ConnectionCap>, wait: Duration) -> Self {
        CappedConnector { inner, cap, wait }
    }
}

impl<C> tower::Service<Uri> for CappedConnector<C>
where
    C: tower::Service<Uri> + Clone + Send + 'static,
    C::Response: Send,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = CappedIo<C::Response>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        // The service polled ready is the one called; a fresh clone stays behind.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let cap = self.cap.clone();
        let wait = self.wait;
        Box::pin(async move {
            let place = cap.place(wait, dst.host().unwrap_or("")).await?;
            let io = inner.call(dst).await.map_err(Into::into)?;
            Ok(CappedIo { io, _place: place })
        })
    }
}

/// An upstream connection's IO with its place under the cap, released on drop.
#[derive(Debug)]
pub struct CappedIo<T> {
    io: T,
    _place: Place,
}

impl<T: Connection> Connection for CappedIo<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl<T: Read + Unpin> Read for CappedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for CappedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn places_are_held_until_dropped_and_waits_give_up() {
        let metrics = Arc::new(UpstreamConnectionMetrics::default());
        let cap = ConnectionCap::new(2, metrics.clone());
        let a = cap.place(Duration::from_secs(1), "u").await.unwrap();
        let _b = cap.place(Duration::from_secs(1), "u").await.unwrap();
        assert_eq!(metrics.open_now(), 2);
        assert_eq!(cap.available(), 0);
        let refused = cap.place(Duration::from_secs(1), "u").await.unwrap_err();
        assert_eq!(refused.max, 2);
        assert_eq!(metrics.refused_count(), 1);
        drop(a);
        assert_eq!(metrics.open_now(), 1);
        assert!(cap.place(Duration::from_secs(1), "u").await.is_ok());
        assert_eq!(metrics.open_now(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_connection_takes_the_place_freed() {
        let metrics = Arc::new(UpstreamConnectionMetrics::default());
        let cap = Arc::new(ConnectionCap::new(1, metrics.clone()));
        let held = cap.place(Duration::from_secs(1), "u").await.unwrap();
        let waiter = tokio::spawn({
            let cap = cap.clone();
            async move { cap.place(Duration::from_secs(60), "u").await.map(|_| ()) }
        });
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
        assert_eq!(metrics.refused_count(), 0);
        assert_eq!(metrics.open_now(), 0);
    }
}
