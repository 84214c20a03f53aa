//! How fresh this replica's directory is: when it last caught up with the shared
//! store, and the bound after which it must fail closed.
//!
//! A replica on the embedded store is the only writer and is always fresh. On a
//! shared store the follower marks every successful catch-up; if none succeeded within
//! the bound (the database is out of reach), routes that demand fresh state answer 503
//! and `/readyz` says not ready, until the next catch-up succeeds.
//!
//! Time is tokio's clock (the system's monotonic clock, unless a test pauses it).

use std::time::Duration;

use tokio::time::Instant;

use parking_lot::Mutex;

/// The freshness of one replica's directory (default: no bound, always fresh).
#[derive(Debug, Default)]
pub struct Freshness {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    bound: Option<Duration>,
    last_caught_up: Option<Instant>,
    connected: bool,
}

/// A snapshot of [`Freshness`], for `/readyz`, metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreshnessStatus {
    /// Whether routes that demand fresh state may be served.
    pub fresh: bool,
    /// Whether the follower's notification connection is up.
    pub connected: bool,
    /// Time since the last successful catch-up (none on the embedded store).
    pub since_catch_up: Option<Duration>,
    /// The configured bound (none on the embedded store).
    pub bound: Option<Duration>,
}

impl Freshness {
    /// Starts bounding staleness by `bound`, counting from now.
    pub fn set_bound(&self, bound: Duration) {
        let mut s = self.state.lock();
        s.bound = Some(bound);
        s.last_caught_up = Some(Instant::now());
    }

    /// Records a successful catch-up with the shared store.
    pub fn caught_up(&self) {
        self.state.lock().last_caught_up = Some(Instant::now());
    }

    /// Records whether the follower's connection is up.
    pub fn set_connected(&self, connected: bool) {
        self.state.lock().connected = connected;
    }

    /// Whether routes that demand fresh state may be served now.
    pub fn is_fresh(&self) -> bool {
        self.status().fresh
    }

    pub fn status(&self) -> FreshnessStatus {
        let s = self.state.lock();
        let since = s.last_caught_up.map(|t| t.elapsed());
        let fresh = match (s.bound, since) {
            (Some(bound), Some(since)) => since <= bound,
            (Some(_), None) => false,
            (None, _) => true,
        };
        FreshnessStatus {
            fresh,
            connected: s.bound.is_none() || s.connected,
            since_catch_up: since,
            bound: s.bound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbounded_is_always_fresh() {
        let f = Freshness::default();
        assert!(f.is_fresh());
        assert_eq!(f.status().bound, None);
    }

    #[tokio::test(start_paused = true)]
    async fn bound_expires_and_catch_up_recovers() {
        let bound = Duration::from_secs(30);
        let f = Freshness::default();
        f.set_bound(bound);
        assert!(f.is_fresh());
        // Fresh up to the bound itself, stale just past it.
        tokio::time::advance(bound).await;
        assert_eq!(f.status().since_catch_up, Some(bound));
        assert!(f.is_fresh());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!f.is_fresh());
        // A catch-up counts from now.
        f.caught_up();
        assert!(f.is_fresh());
        assert_eq!(f.status().since_catch_up, Some(Duration::ZERO));
        tokio::time::advance(bound).await;
        assert!(f.is_fresh());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!f.is_fresh());
    }
}
