//! Idle bounds of proxied streams: a response body the client stops reading, a request
//! body the client stops sending, a websocket tunnel that carries nothing.
//!
//! The listener puts a [`ConnectionBounds`] in every request's extensions: the global
//! defaults of the routes' `timeouts.stream_idle` / `timeouts.websocket_idle`, where
//! closures are counted, and the connection's stall signal. A response body the client
//! does not read is not polled at all (hyper polls a body only when it can write), so
//! it cannot notice its own stall: the process's stall sweeper does ([`super::stall`]);
//! it then drops the upstream body and the route's concurrency permit (see
//! [`super::body`]) and asks the listener to close the client connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;

use crate::metrics::connections::{CloseReason, ConnectionMetrics};

/// What the listener tells the proxy about the connection a request came on.
#[derive(Clone)]
pub struct ConnectionBounds {
    /// Default of the routes' `timeouts.stream_idle`.
    pub stream_idle: Duration,
    /// Default of the routes' `timeouts.websocket_idle`.
    pub websocket_idle: Duration,
    /// Where closures are counted.
    pub metrics: Arc<ConnectionMetrics>,
    /// Cancelled when a response on this connection stalled: the listener closes it.
    pub stalled: CancellationToken,
}

impl std::fmt::Debug for ConnectionBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionBounds")
            .field("stream_idle", &self.stream_idle)
            .field("websocket_idle", &self.websocket_idle)
            .finish_non_exhaustive()
    }
}

/// The error a body cut for idleness ends with.
#[derive(Debug, thiserror::Error)]
#[error("stream idle past its timeout")]
pub struct StreamIdle;

/// Milliseconds since `base` (saturating).
fn millis_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A request body that fails when the client sends nothing for `limit` while the
/// upstream waits for it.
pub struct IdleRequestBody<B> {
    inner: B,
    limit: Duration,
    /// Made the first time the body waits on the client (a request without a body
    /// never does).
    timer: Option<Pin<Box<Sleep>>>,
    waiting: bool,
    bounds: Option<ConnectionBounds>,
}

impl<B> IdleRequestBody<B> {
    pub fn new(inner: B, limit: Duration, bounds: Option<ConnectionBounds>) -> Self {
        IdleRequestBody {
            inner,
            limit,
            timer: None,
            waiting: false,
            bounds,
        }
    }
}

impl<B> Body for IdleRequestBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                if !this.waiting {
                    this.waiting = true;
                    let deadline = Instant::now() + this.limit;
                    match &mut this.timer {
                        Some(timer) => timer.as_mut().reset(deadline),
                        None => this.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                }
                let fired = this
                    .timer
                    .as_mut()
                    .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
                if fired {
                    if let Some(b) = &this.bounds {
                        b.metrics.closed(CloseReason::StreamIdle);
                    }
                    tracing::info!("request stream cut: the client sent nothing");
                    return Poll::Ready(Some(Err(Box::new(StreamIdle))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An upgraded connection that notes when bytes last moved through it.
pub(crate) struct Activity<T> {
    inner: T,
    base: Instant,
    last: Arc<AtomicU64>,
}

impl<T> Activity<T> {
    pub(crate) fn new(inner: T, base: Instant, last: Arc<AtomicU64>) -> Self {
        Activity { inner, base, last }
    }

    fn moved(&self) {
        self.last.store(millis_since(self.base), Ordering::Relaxed);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Activity<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.moved();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Activity<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.moved();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Resolves once nothing has moved through the tunnel (see [`Activity`]) for `limit`.
pub(crate) async fn quiet_for(base: Instant, last: &AtomicU64, limit: Duration) {
    loop {
        let moved = base + Duration::from_millis(last.load(Ordering::Relaxed));
        let deadline = moved + limit;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, StreamBody};
    use tokio::sync::mpsc;

    use super::*;

    /// A body fed by hand through the returned sender.
    fn channel_body() -> (
        mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>,
        impl Body<Data = Bytes, Error = std::io::Error> + Unpin,
    ) {
        let (tx, rx) = mpsc::channel(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        (tx, StreamBody::new(Box::pin(stream)))
    }

    #[tokio::test]
    async fn a_request_body_the_client_stops_sending_fails() {
        let (tx, inner) = channel_body();
        let mut body = IdleRequestBody::new(inner, Duration::from_millis(50), None);
        tx.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"a"));
        // Nothing more comes: the next frame is the idle error.
        let next = body.frame().await.unwrap().unwrap_err();
        assert!(next.is::<StreamIdle>(), "{next}");
        drop(tx);
    }

    #[tokio::test]
    async fn a_tunnel_quiet_past_its_limit_is_noticed() {
        let base = Instant::now();
        let last = Arc::new(AtomicU64::new(0));
        let (a, mut b) = tokio::io::duplex(64);
        let mut a = Activity::new(a, base, last.clone());
        tokio::io::AsyncWriteExt::write_all(&mut a, b"ping")
            .await
            .unwrap();
        let mut buf = [0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut b, &mut buf)
            .await
            .unwrap();
        quiet_for(base, &last, Duration::from_millis(50)).await;
        let moved = Duration::from_millis(last.load(Ordering::Relaxed));
        assert!(base.elapsed() >= moved + Duration::from_millis(50));
    }
}
