//! Instant revocation: the registry of live streams per user, and the fan-out.
//!
//! Every forwarded exchange registers itself here (user, route, host, method, path) with a
//! cancellation handle ([`StreamCancel`]: a flag and one waker in one allocation, where a
//! token of a cancellation tree would cost a node, a lock of the shared parent at each
//! registration and a boxed future), and unregisters when its body or tunnel ends. After each directory
//! commit (and each policy reload) the gate re-judges every live stream against the new
//! state and cancels the ones that are no longer allowed: a download stops, a websocket
//! closes. Sessions are ended by the same fan-out (see `gate::hook`). Nothing here caches a
//! decision: a new request is always judged on the directory as it is.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use dashmap::DashMap;
use futures_util::task::AtomicWaker;
use http::Method;
use tokio_util::sync::CancellationToken;

/// How a live stream is cut: cancelled once, by revocation or the server's shutdown;
/// awaited by one future at a time (the exchange while it waits on the upstream, then
/// its body or its tunnel). Clones share the state.
#[derive(Clone, Debug, Default)]
pub struct StreamCancel(Option<Arc<CancelState>>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    waker: AtomicWaker,
}

impl StreamCancel {
    /// A handle that can be cancelled.
    pub fn new() -> Self {
        StreamCancel(Some(Arc::default()))
    }

    /// A handle nothing can cancel (an exchange no registry tracks): costs nothing.
    pub fn never() -> Self {
        StreamCancel(None)
    }

    /// Cancels the stream and wakes the future waiting on it.
    pub fn cancel(&self) {
        if let Some(s) = &self.0 {
            if !s.cancelled.swap(true, Ordering::AcqRel) {
                s.waker.wake();
            }
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|s| s.cancelled.load(Ordering::Acquire))
    }

    /// Ready once cancelled; else the task of `cx` is woken by the cancel (it replaces
    /// the waker of an earlier poll).
    pub fn poll_cancelled(&self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(s) = &self.0 else {
            return Poll::Pending;
        };
        if s.cancelled.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        s.waker.register(cx.waker());
        if s.cancelled.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Resolves once cancelled.
    pub fn cancelled(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| self.poll_cancelled(cx))
    }
}

/// One live forwarded exchange.
#[derive(Debug, Clone)]
pub struct LiveStream {
    pub id: u64,
    pub user_id: Arc<str>,
    pub route: Arc<str>,
    pub host: Arc<str>,
    pub method: Method,
    /// The normalised path it was judged on.
    pub path: Arc<str>,
    pub cancel: StreamCancel,
    pub started: std::time::Instant,
}

/// Counters of what revocation did (exported as metrics later).
#[derive(Debug, Default)]
pub struct RevocationStats {
    pub streams_cut: AtomicU64,
    pub rechecks: AtomicU64,
}

/// The live streams of every user.
#[derive(Default)]
pub struct Registry {
    streams: DashMap<u64, LiveStream, foldhash::fast::RandomState>,
    next: AtomicU64,
    pub stats: RevocationStats,
    /// Cancelling it cuts every stream, those registered later too.
    all: CancellationToken,
}

/// Unregisters its stream when dropped (hold it as long as the body or tunnel lives).
pub struct StreamGuard {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.registry.streams.remove(&self.id);
    }
}

/// What a new stream is (see [`Registry::register`]).
pub struct NewStream {
    pub user_id: Arc<str>,
    pub route: Arc<str>,
    pub host: Arc<str>,
    pub method: Method,
    pub path: Arc<str>,
}

impl Registry {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A registry whose streams are all cut when `all` is cancelled (the server's
    /// shutdown). Inside a tokio runtime, a task waits for `all` and then cuts every
    /// stream (it ends then, or with the runtime); streams registered afterwards are
    /// cut as they register.
    pub fn under(all: CancellationToken) -> Arc<Self> {
        let registry = Arc::new(Registry {
            all: all.clone(),
            ..Self::default()
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let weak: Weak<Registry> = Arc::downgrade(&registry);
            runtime.spawn(async move {
                all.cancelled().await;
                if let Some(r) = weak.upgrade() {
                    r.cut_all();
                }
            });
        }
        registry
    }

    /// Registers a stream; it stays registered while the guard lives.
    pub fn register(self: &Arc<Self>, s: NewStream) -> (StreamCancel, StreamGuard) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let cancel = StreamCancel::new();
        self.streams.insert(
            id,
            LiveStream {
                id,
                user_id: s.user_id,
                route: s.route,
                host: s.host,
                method: s.method,
                path: s.path,
                cancel: cancel.clone(),
                started: std::time::Instant::now(),
            },
        );
        // After the insert: a shutdown that began before it has cut the others and
        // cuts this one here.
        if self.all.is_cancelled() {
            cancel.cancel();
        }
        (
            cancel,
            StreamGuard {
                registry: self.clone(),
                id,
            },
        )
    }

    /// How many streams are live.
    pub fn len(&self) -> usize {
        self.streams.len()
    }

    pub fn is_empty(&self) -> bool {
        self.streams.is_empty()
    }

    /// Re-judges every live stream with `still_allowed` and cancels the others; returns
    /// how many were cut.
    pub fn recheck(&self, still_allowed: impl Fn(&LiveStream) -> bool) -> usize {
        self.stats.rechecks.fetch_add(1, Ordering::Relaxed);
        let doomed: Vec<LiveStream> = self
            .streams
            .iter()
            .filter(|s| !s.cancel.is_cancelled() && !still_allowed(s.value()))
            .map(|s| s.value().clone())
            .collect();
        for s in &doomed {
            tracing::info!(
                user_id = %s.user_id,
                route = %s.route,
                method = %s.method,
                path = %s.path,
                age_ms = s.started.elapsed().as_millis() as u64,
                "access revoked: closing a live stream"
            );
            s.cancel.cancel();
        }
        self.stats
            .streams_cut
            .fetch_add(doomed.len() as u64, Ordering::Relaxed);
        doomed.len()
    }

    /// Cancels every stream (the server's shutdown).
    pub fn cut_all(&self) -> usize {
        let mut cut = 0;
        for s in self.streams.iter() {
            if !s.cancel.is_cancelled() {
                s.cancel.cancel();
                cut += 1;
            }
        }
        cut
    }

    /// Cancels every stream of one user (deleted or deactivated).
    pub fn cut_user(&self, user_id: &str) -> usize {
        self.recheck(|s| &*s.user_id != user_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(user: &str, route: &str) -> NewStream {
        NewStream {
            user_id: user.into(),
            route: route.into(),
            host: "h".into(),
            method: Method::GET,
            path: "/x".into(),
        }
    }

    #[test]
    fn recheck_cancels_only_denied_streams_and_guards_unregister() {
        let r = Registry::new();
        let (a, ga) = r.register(stream("alice", "docs"));
        let (b, _gb) = r.register(stream("bob", "docs"));
        assert_eq!(r.len(), 2);
        assert_eq!(r.recheck(|s| &*s.user_id != "alice"), 1);
        assert!(a.is_cancelled());
        assert!(!b.is_cancelled());
        drop(ga);
        assert_eq!(r.len(), 1);
        assert_eq!(r.cut_user("bob"), 1);
        assert!(b.is_cancelled());
        assert_eq!(r.stats.streams_cut.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn a_shutdown_cuts_live_streams_and_later_ones_and_wakes_their_waiter() {
        let all = CancellationToken::new();
        let r = Registry::under(all.clone());
        let (live, _g1) = r.register(stream("alice", "docs"));
        let waiting = {
            let live = live.clone();
            tokio::spawn(async move { live.cancelled().await })
        };
        tokio::task::yield_now().await;
        assert!(!live.is_cancelled());
        all.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(30), waiting)
            .await
            .expect("the cancel wakes the waiter")
            .unwrap();
        assert!(live.is_cancelled());
        let (later, _g2) = r.register(stream("bob", "docs"));
        assert!(later.is_cancelled());
        assert!(!StreamCancel::never().is_cancelled());
    }
}
