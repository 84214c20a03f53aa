//! Instant revocation: the registry of live streams per user, and the fan-out.
//!
//! Every forwarded exchange registers itself here (user, route, host, method, path) with a
//! cancellation token, and unregisters when its body or tunnel ends. After each directory
//! commit (and each policy reload) the gate re-judges every live stream against the new
//! state and cancels the ones that are no longer allowed: a download stops, a websocket
//! closes. Sessions are ended by the same fan-out (see `gate::hook`). Nothing here caches a
//! decision: a new request is always judged on the directory as it is.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use http::Method;
use tokio_util::sync::CancellationToken;

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
    pub cancel: CancellationToken,
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
    /// Every stream's token is a child of this one: cancelling it cuts them all.
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
    /// shutdown).
    pub fn under(all: CancellationToken) -> Arc<Self> {
        Arc::new(Registry {
            all,
            ..Self::default()
        })
    }

    /// Registers a stream; it stays registered while the guard lives.
    pub fn register(self: &Arc<Self>, s: NewStream) -> (CancellationToken, StreamGuard) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let cancel = self.all.child_token();
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
}
