//! The upstream response body as the client receives it: streamed frame by frame,
//! ended by revocation, and holding the route's concurrency permit until it finishes.
//!
//! When the stream is cancelled ([`StreamCancel`]), the next poll yields an error; hyper
//! then aborts the client connection (HTTP/1) or resets the stream (HTTP/2), and
//! dropping the upstream body closes the upstream connection. The body registers its
//! waker with the handle at each poll, so a cancel wakes a body that is waiting on the
//! upstream at once.
//! A client that has stopped reading (hyper waiting to write, not polling the body)
//! sees the error when it reads again; to drop such a connection at once, the server
//! has to race the connection itself against the token. A client that reads nothing
//! for the stream idle timeout loses the body at once ([`CancellableBody::watch_stalls`],
//! through the process's stall sweeper, [`super::stall`]): the upstream body and the
//! permit are dropped, and the listener closes the connection.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::BoxError;
use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use parking_lot::Mutex;
use tokio::sync::OwnedSemaphorePermit;

use super::idle::{ConnectionBounds, StreamIdle};
use super::stall::{self, Check, Progress, Stall};
use crate::metrics::connections::CloseReason;
use crate::revoke::StreamCancel;

/// The error a cancelled body ends with.
#[derive(Debug, thiserror::Error)]
#[error("stream cancelled")]
pub struct StreamCancelled;

/// What the body holds until it ends: the upstream body and the permit.
struct Holding<B, H> {
    inner: B,
    _permit: Option<H>,
}

/// The body's state shared with the stall sweeper, which takes what the body holds
/// away when the client stops reading.
struct Shared<B, H> {
    holding: Mutex<Option<Holding<B, H>>>,
    progress: Progress,
    /// The stream idle limit and the connection's bounds, once watched.
    watch: Option<(Duration, Option<ConnectionBounds>)>,
}

impl<B: Send, H: Send> Stall for Shared<B, H> {
    fn check(&self, now: Instant) -> Check {
        match &self.watch {
            Some((limit, _)) => self.progress.check(now, *limit),
            None => Check::Done,
        }
    }

    fn ended(&self) -> bool {
        self.progress.is_done()
    }

    fn cut(&self) {
        let Some((limit, bounds)) = &self.watch else {
            return;
        };
        if self.progress.end() {
            return;
        }
        tracing::info!(
            limit_ms = limit.as_millis() as u64,
            "response stream cut: the client read nothing"
        );
        let held = self.holding.lock().take();
        drop(held);
        if let Some(b) = bounds {
            b.metrics.closed(CloseReason::StreamIdle);
            b.stalled.cancel();
        }
    }
}

/// A body that stops when `cancel` fires and releases what it holds (the route's
/// concurrency permit, the live-stream registration) when done, or when the client has
/// read nothing for the stream idle timeout ([`CancellableBody::watch_stalls`]).
pub struct CancellableBody<B, H = OwnedSemaphorePermit> {
    shared: Arc<Shared<B, H>>,
    cancel: StreamCancel,
    finished: bool,
}

impl<B, H> CancellableBody<B, H> {
    pub fn new(inner: B, cancel: StreamCancel, permit: Option<H>) -> Self {
        Self {
            shared: Arc::new(Shared {
                holding: Mutex::new(Some(Holding {
                    inner,
                    _permit: permit,
                })),
                progress: Progress::default(),
                watch: None,
            }),
            cancel,
            finished: false,
        }
    }

    fn finish(&mut self) {
        self.finished = true;
        self.shared.progress.end();
        self.shared.holding.lock().take();
    }
}

impl<B: Send + 'static, H: Send + 'static> CancellableBody<B, H> {
    /// Cuts the body when the client reads nothing for `limit` (the body is not polled
    /// while hyper cannot write): the upstream body and the permit are dropped at once,
    /// the closure is counted and the client connection is asked to close (`bounds`).
    /// The stall sweeper ([`super::stall`]) watches it.
    pub fn watch_stalls(mut self, limit: Duration, bounds: Option<ConnectionBounds>) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.watch = Some((limit, bounds));
            stall::watch(self.shared.clone(), Instant::now() + limit);
        }
        self
    }
}

impl<B, H> Drop for CancellableBody<B, H> {
    fn drop(&mut self) {
        if !self.shared.progress.end() {
            // Released now, not when the sweeper next looks.
            let held = self.shared.holding.lock().take();
            drop(held);
        }
    }
}

impl<B, H: Unpin> Body for CancellableBody<B, H>
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
        if this.finished {
            return Poll::Ready(None);
        }
        if this.cancel.poll_cancelled(cx).is_ready() {
            this.finish();
            return Poll::Ready(Some(Err(Box::new(StreamCancelled))));
        }
        let polled = match this.shared.holding.lock().as_mut() {
            Some(held) => Pin::new(&mut held.inner)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(Into::into))),
            // The stall sweeper took it: the client stopped reading.
            None => Poll::Ready(Some(Err(BoxError::from(StreamIdle)))),
        };
        let watched = this.shared.watch.is_some();
        match polled {
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish();
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if watched {
                    this.shared.progress.yielded();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                if watched {
                    this.shared.progress.waiting_on_upstream();
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished
            || self
                .shared
                .holding
                .lock()
                .as_ref()
                .is_none_or(|held| held.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        if self.finished {
            return SizeHint::with_exact(0);
        }
        match self.shared.holding.lock().as_ref() {
            Some(held) => held.inner.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use http_body_util::{BodyExt, Full, StreamBody};
    use tokio::sync::{mpsc, Semaphore};

    use super::*;

    #[tokio::test]
    async fn passes_frames_and_releases_the_permit_at_the_end() {
        let limit = Arc::new(Semaphore::new(1));
        let permit = limit.clone().acquire_owned().await.unwrap();
        let body = CancellableBody::new(
            Full::new(Bytes::from_static(b"hello")),
            StreamCancel::new(),
            Some(permit),
        );
        assert_eq!(body.size_hint().exact(), Some(5));
        assert_eq!(limit.available_permits(), 0);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
        assert_eq!(limit.available_permits(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancel_wakes_a_waiting_body_with_an_error() {
        let limit = Arc::new(Semaphore::new(1));
        let permit = limit.clone().acquire_owned().await.unwrap();
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let cancel = StreamCancel::new();
        let mut body = CancellableBody::new(
            StreamBody::new(Box::pin(stream)),
            cancel.clone(),
            Some(permit),
        );
        tx.send(Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"a"));

        // The cancel comes from another task, strictly after the body has answered
        // Pending: only the wake the cancel causes can get the body polled again.
        let (pending_tx, pending_rx) = tokio::sync::oneshot::channel::<()>();
        let canceller = tokio::spawn(async move {
            pending_rx.await.unwrap();
            cancel.cancel();
        });
        let mut pending_tx = Some(pending_tx);
        let waiting = std::future::poll_fn(|cx| {
            let polled = Pin::new(&mut body).poll_frame(cx);
            if polled.is_pending() {
                if let Some(tx) = pending_tx.take() {
                    tx.send(()).unwrap();
                }
            }
            polled
        });
        // Paused time: without the wake, every task would wait and the clock would jump
        // to this guard at once.
        let next = tokio::time::timeout(Duration::from_secs(60), waiting)
            .await
            .expect("cancel must wake the body");
        assert!(next.unwrap().unwrap_err().is::<StreamCancelled>());
        assert_eq!(limit.available_permits(), 1);
        assert!(body.frame().await.is_none());
        canceller.await.unwrap();
        drop(tx);
    }
}
