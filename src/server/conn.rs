//! One client connection, from accept to close, with every bound of `server:` applied.
//!
//! The connection's stream is wrapped in [`Watched`], which holds the connection's slot
//! under the cap (for as long as the socket lives, upgrades included) and notes which
//! protocol the first bytes announce. Each request is counted while it is in progress
//! (until its response body ends, [`Tracked`]). The driver ([`drive`]) polls hyper's
//! connection against the bounds hyper does not keep itself: protocol detection (nothing
//! sent, or a partial HTTP/2 preface), an idle HTTP/1 or HTTP/2 connection, a response
//! the client stopped reading (the proxy signals it), and the server's drain.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::Dispatch;
use crate::config::server::ServerLimits;
use crate::metrics::connections::{CloseReason, ConnectionMetrics};
use crate::proxy::idle::ConnectionBounds;

/// How long a connection told to close gracefully (GOAWAY, or a drained HTTP/1 exchange)
/// has before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const PENDING: u8 = 0;
const HTTP1: u8 = 1;
const HTTP2: u8 = 2;

/// What every connection of a listener shares.
pub(super) struct Shared {
    pub limits: ServerLimits,
    pub dispatch: Arc<Dispatch>,
    pub tls: Option<TlsAcceptor>,
    pub metrics: Arc<ConnectionMetrics>,
    builder: auto::Builder<TokioExecutor>,
}

impl Shared {
    pub(super) fn new(
        limits: ServerLimits,
        dispatch: Arc<Dispatch>,
        tls: Option<TlsAcceptor>,
        metrics: Arc<ConnectionMetrics>,
    ) -> Self {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // A client that never finishes its headers is cut off (slow-loris); hyper
        // starts this timer whenever it waits for a request head, between keep-alive
        // requests too.
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(limits.http2_ping_interval)
            .keep_alive_timeout(limits.http2_ping_timeout)
            .max_concurrent_streams(limits.http2_max_streams);
        Shared {
            limits,
            dispatch,
            tls,
            metrics,
            builder,
        }
    }
}

/// A connection's place under the cap; given back (and the open gauge lowered) when
/// the socket is dropped.
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<ConnectionMetrics>,
}

impl Slot {
    pub(super) fn new(permit: OwnedSemaphorePermit, metrics: Arc<ConnectionMetrics>) -> Self {
        metrics.opened();
        Slot {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.ended();
    }
}

/// What the driver and the request counters share about one connection.
///
/// Requests only touch atomics: the driver is never woken when one begins or ends. Its
/// one timer is armed no later than the earliest moment a bound could run out and looks
/// again when it fires (see [`ConnState::next_check`]), so a busy connection costs the
/// driver one timer event per idle period, not two wake-ups per request.
struct ConnState {
    base: Instant,
    protocol: AtomicU8,
    active: AtomicUsize,
    /// When the last request in progress ended (ms since `base`).
    idle_since: AtomicU64,
}

impl ConnState {
    fn protocol(&self) -> u8 {
        self.protocol.load(Ordering::Relaxed)
    }

    /// Counts a request in progress until the guard is dropped.
    fn begin(self: &Arc<Self>) -> ActiveGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        ActiveGuard(self.clone())
    }

    /// When the bound that applies now runs out (`None`: none runs).
    fn deadline(&self, limits: &ServerLimits) -> Option<(Instant, CloseReason)> {
        let protocol = self.protocol();
        if protocol == PENDING {
            return Some((self.base + limits.detect_timeout, CloseReason::Detect));
        }
        if self.active.load(Ordering::Acquire) > 0 {
            return None;
        }
        let since = self.base + Duration::from_millis(self.idle_since.load(Ordering::Acquire));
        Some(if protocol == HTTP2 {
            (since + limits.http2_idle_timeout, CloseReason::Http2Idle)
        } else {
            (since + limits.http1_idle_timeout, CloseReason::Http1Idle)
        })
    }

    /// When the driver must look again, `now` being the time it looks: never later than
    /// a bound could run out whatever the requests do in between. A deadline taken now
    /// can only move later (a request that ends after now starts its idle period after
    /// now), except while the protocol is still unknown, when an idle bound shorter
    /// than the detection bound could apply as soon as the first bytes arrive.
    fn next_check(&self, limits: &ServerLimits, now: Instant) -> Instant {
        let shortest_idle = limits.http1_idle_timeout.min(limits.http2_idle_timeout);
        match self.deadline(limits) {
            Some((at, _)) if self.protocol() == PENDING => at.min(self.base + shortest_idle),
            Some((at, _)) => at,
            None => now + shortest_idle,
        }
    }
}

struct ActiveGuard(Arc<ConnState>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let state = &self.0;
        let ms = u64::try_from(state.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        state.idle_since.store(ms, Ordering::Release);
        state.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The client's stream: holds the slot and notes the protocol from the first bytes.
struct Watched<S> {
    inner: S,
    state: Arc<ConnState>,
    /// Preface bytes matched so far.
    seen: usize,
    _slot: Arc<Slot>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.seen < H2_PREFACE.len() && this.state.protocol() == PENDING {
            for &b in &buf.filled()[before..] {
                if b != H2_PREFACE[this.seen] {
                    this.state.protocol.store(HTTP1, Ordering::Relaxed);
                    break;
                }
                this.seen += 1;
                if this.seen == H2_PREFACE.len() {
                    this.state.protocol.store(HTTP2, Ordering::Relaxed);
                    break;
                }
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A response body that counts its request as in progress until it ends.
struct Tracked {
    inner: Body,
    _active: ActiveGuard,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One request's handling, boxed: hyper keeps the slot for the future in flight for
/// as long as the connection lives, so an idle keep-alive connection holds only a
/// pointer, not the whole proxy path's state.
type RequestFuture = Pin<
    Box<
        dyn std::future::Future<Output = Result<hyper::Response<Body>, std::convert::Infallible>>
            + Send,
    >,
>;

/// Serves one accepted connection: the TLS handshake (bounded), then HTTP.
///
/// The TLS path is boxed: the task of every connection is as large as this future's
/// largest state, and a TLS stream is far larger than a TCP socket, so plain
/// connections would otherwise each carry a TLS connection's worth of idle state.
pub(super) async fn run(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: Slot,
    drain: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let slot = Arc::new(slot);
    match shared.tls.clone() {
        Some(acceptor) => Box::pin(run_tls(acceptor, tcp, peer, shared, slot, drain)).await,
        None => drive(tcp, peer, shared, slot, drain).await,
    }
}

/// The TLS handshake (bounded by `tls_handshake_timeout`), then HTTP over it.
async fn run_tls(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    drain: watch::Receiver<bool>,
) {
    let limit = shared.limits.tls_handshake_timeout;
    match tokio::time::timeout(limit, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => drive(stream, peer, shared, slot, drain).await,
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => {
            shared.metrics.closed(CloseReason::TlsHandshake);
            tracing::debug!(%peer, "TLS handshake timed out");
        }
    }
}

/// Serves HTTP on `stream` until it ends or a bound closes it.
async fn drive<S>(
    stream: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    mut drain: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let state = Arc::new(ConnState {
        base: Instant::now(),
        protocol: AtomicU8::new(PENDING),
        active: AtomicUsize::new(0),
        idle_since: AtomicU64::new(0),
    });
    let io = Watched {
        inner: stream,
        state: state.clone(),
        seen: 0,
        _slot: slot,
    };
    let stalled = CancellationToken::new();
    let bounds = ConnectionBounds {
        stream_idle: shared.limits.stream_idle_timeout,
        websocket_idle: shared.limits.websocket_idle_timeout,
        metrics: shared.metrics.clone(),
        stalled: stalled.clone(),
    };
    let dispatch = shared.dispatch.clone();
    let requests = state.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // HTTP/2 carries the host as :authority; give handlers one place to look.
        // (Only HTTP/2: an HTTP/1.1 request without Host is refused in dispatch.)
        if req.version() == http::Version::HTTP_2 && !req.headers().contains_key(http::header::HOST)
        {
            if let Some(host) = req
                .uri()
                .authority()
                .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
            {
                req.headers_mut().insert(http::header::HOST, host);
            }
        }
        let bounds = bounds.clone();
        let active = requests.begin();
        let dispatch = dispatch.clone();
        let fut = async move {
            let resp = dispatch.handle(req, peer, Some(bounds)).await;
            Ok::<_, std::convert::Infallible>(resp.map(|inner| {
                Body::new(Tracked {
                    inner,
                    _active: active,
                })
            }))
        };
        Box::pin(fut) as RequestFuture
    });
    let conn = shared
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let metrics = &shared.metrics;
    // Told to close gracefully: the timer now holds the end of the grace.
    let mut closing = false;
    let mut draining = *drain.borrow();
    let mut stall_seen = false;
    if draining {
        return;
    }
    // The futures the loop waits on live across its turns: one timer, reset only when
    // its deadline moves, and one registration with the stall signal.
    let timer = tokio::time::sleep_until(state.next_check(&shared.limits, Instant::now()));
    tokio::pin!(timer);
    let stall = stalled.cancelled();
    tokio::pin!(stall);
    let ended = loop {
        tokio::select! {
            ended = conn.as_mut() => break Some(ended),
            () = timer.as_mut() => {
                let now = Instant::now();
                if closing {
                    // The grace after a graceful close ran out.
                    break None;
                }
                match state.deadline(&shared.limits) {
                    Some((at, why)) if now >= at => {
                        metrics.closed(why);
                        tracing::debug!(%peer, reason = why.as_str(), "closing connection");
                        if why == CloseReason::Http2Idle {
                            conn.as_mut().graceful_shutdown();
                            let grace = now + CLOSE_GRACE;
                            closing = true;
                            timer.as_mut().reset(grace);
                        } else {
                            break None;
                        }
                    }
                    _ => timer.as_mut().reset(state.next_check(&shared.limits, now)),
                }
            }
            () = stall.as_mut(), if !stall_seen => {
                // A response on this connection stalled (counted by the proxy).
                stall_seen = true;
                if state.protocol() == HTTP2 {
                    conn.as_mut().graceful_shutdown();
                    let grace = Instant::now() + CLOSE_GRACE;
                    closing = true;
                    timer.as_mut().reset(grace);
                } else {
                    break None;
                }
            }
            changed = drain.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    };
    if let Some(Err(e)) = ended {
        let timed_out = e
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout);
        if timed_out {
            metrics.closed(if state.protocol() == HTTP2 {
                CloseReason::Http2Ping
            } else {
                CloseReason::HeaderRead
            });
        }
        tracing::debug!(%peer, error = %e, "connection ended with an error");
    }
}
