//! The stall sweeper: one thread of the process watches every streaming response body
//! for a client that stopped reading, instead of a task and a timer per response.
//!
//! A response body the client does not read is not polled at all (hyper polls a body
//! only when it can write), so the body cannot notice its own stall. Each watched body
//! registers a [`Stall`] here once (a reference-counted handle it already holds, pushed
//! onto a shared list: no task, no timer, no allocation of its own); the body notes its
//! progress in it on every poll ([`Progress`]). The sweeper wakes at the earliest
//! deadline among the bodies (no earlier than [`GRANULE`] after its last sweep, so a
//! burst of bodies costs one wake-up), drops the entries of bodies that ended, and cuts
//! those the client has held up for their limit ([`Stall::cut`]: the body's upstream
//! body and permit are dropped, the closure counted, the connection asked to close).
//! With no body registered it sleeps until one is. Ended bodies also leave the list as
//! bodies register: whenever it has doubled since it was last purged, so it holds at
//! most about twice the bodies alive (plus [`PURGE_MIN`]) however long the limits are.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// The least time between two sweeps: how late past its limit a stall may be cut.
pub(crate) const GRANULE: Duration = Duration::from_millis(10);
/// The list is not purged of ended bodies below this length.
const PURGE_MIN: usize = 256;

/// Milliseconds since `base` (saturating).
fn millis_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// How a response body is getting on, as the sweeper sees it.
#[derive(Debug)]
pub(crate) struct Progress {
    base: Instant,
    /// When the body last handed hyper a frame or waited on the upstream (ms since
    /// `base`).
    last: AtomicU64,
    /// The body is waiting on the upstream (not on the client).
    upstream: AtomicBool,
    done: AtomicBool,
}

/// What the sweeper makes of a body at one sweep.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// The body ended: forget it.
    Done,
    /// The client has held the body up for its limit: cut it.
    Stalled,
    /// Look again at this instant.
    Due(Instant),
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            base: Instant::now(),
            last: AtomicU64::new(0),
            upstream: AtomicBool::new(false),
            done: AtomicBool::new(false),
        }
    }
}

impl Progress {
    /// The body yielded a frame: hyper now has to write it to the client.
    pub(crate) fn yielded(&self) {
        self.upstream.store(false, Ordering::Relaxed);
        self.last.store(millis_since(self.base), Ordering::Relaxed);
    }

    /// The body waits on the upstream: the client is not what holds it up.
    pub(crate) fn waiting_on_upstream(&self) {
        self.upstream.store(true, Ordering::Relaxed);
        self.last.store(millis_since(self.base), Ordering::Relaxed);
    }

    /// The body finished or was dropped: the sweeper forgets it. Returns whether it
    /// had already ended.
    pub(crate) fn end(&self) -> bool {
        self.done.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Whether, at `now`, the client has held the body up for `limit`.
    pub(crate) fn check(&self, now: Instant, limit: Duration) -> Check {
        if self.is_done() {
            return Check::Done;
        }
        if self.upstream.load(Ordering::Relaxed) {
            return Check::Due(now + limit);
        }
        let last = self.base + Duration::from_millis(self.last.load(Ordering::Relaxed));
        let due = last + limit;
        if now >= due {
            Check::Stalled
        } else {
            Check::Due(due)
        }
    }
}

/// A watched body, as the sweeper holds it.
pub(crate) trait Stall: Send + Sync {
    /// What the body's progress says at `now`.
    fn check(&self, now: Instant) -> Check;
    /// Cuts the stalled body (called once, outside the sweeper's lock).
    fn cut(&self);
    /// Whether the body has ended (the sweeper may forget it).
    fn ended(&self) -> bool;
}

/// The bodies being watched and when the sweeper next looks.
struct Watched {
    bodies: Vec<Arc<dyn Stall>>,
    /// When the sweeper wakes next (`None`: when a body is registered).
    next: Option<Instant>,
    running: bool,
    /// The length at which registering purges ended bodies.
    purge_at: usize,
}

struct Sweeper {
    watched: Mutex<Watched>,
    wake: Condvar,
}

fn sweeper() -> &'static Sweeper {
    static SWEEPER: OnceLock<Sweeper> = OnceLock::new();
    SWEEPER.get_or_init(|| Sweeper {
        watched: Mutex::new(Watched {
            bodies: Vec::new(),
            next: None,
            running: false,
            purge_at: PURGE_MIN,
        }),
        wake: Condvar::new(),
    })
}

/// Watches `body` until it reports [`Check::Done`]; its first deadline is `first_due`.
pub(crate) fn watch(body: Arc<dyn Stall>, first_due: Instant) {
    let s = sweeper();
    let mut w = s.watched.lock();
    if w.bodies.len() >= w.purge_at {
        // Amortised: the list has doubled since the last purge.
        w.bodies.retain(|b| !b.ended());
        w.purge_at = (w.bodies.len() * 2).max(PURGE_MIN);
    }
    w.bodies.push(body);
    if !w.running {
        // The sweeper starts with the first body; if the thread cannot be made, the
        // next body tries again (and until then stalls are not cut).
        match std::thread::Builder::new()
            .name("stall-sweeper".into())
            .spawn(|| sweep(sweeper()))
        {
            Ok(_) => w.running = true,
            Err(e) => tracing::error!(error = %e, "cannot start the stall sweeper"),
        }
    }
    if w.next.is_none_or(|next| first_due < next) {
        w.next = Some(first_due);
        s.wake.notify_one();
    }
}

/// The sweeper's loop (it never ends: the thread sleeps while nothing is watched).
fn sweep(s: &'static Sweeper) {
    let mut stalled: Vec<Arc<dyn Stall>> = Vec::new();
    let mut w = s.watched.lock();
    loop {
        match w.next {
            None => s.wake.wait(&mut w),
            Some(at) if Instant::now() < at => {
                let _ = s.wake.wait_until(&mut w, at);
            }
            Some(_) => {}
        }
        let now = Instant::now();
        if w.next.is_none_or(|at| now < at) {
            continue;
        }
        let mut next: Option<Instant> = None;
        w.bodies.retain(|b| match b.check(now) {
            Check::Done => false,
            Check::Stalled => {
                stalled.push(b.clone());
                false
            }
            Check::Due(at) => {
                next = Some(next.map_or(at, |n| n.min(at)));
                true
            }
        });
        w.next = next.map(|at| at.max(now + GRANULE));
        if !stalled.is_empty() {
            // Dropping an upstream body may take a while: not under the lock bodies
            // register through.
            drop(w);
            for b in stalled.drain(..) {
                b.cut();
            }
            w = s.watched.lock();
        }
        let (len, capacity) = (w.bodies.len(), w.bodies.capacity());
        if capacity > 64 && len < capacity / 4 {
            w.bodies.shrink_to(len * 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    struct Counted {
        progress: Progress,
        limit: Duration,
        cuts: AtomicUsize,
    }

    impl Stall for Counted {
        fn check(&self, now: Instant) -> Check {
            self.progress.check(now, self.limit)
        }
        fn cut(&self) {
            self.cuts.fetch_add(1, Ordering::Relaxed);
        }
        fn ended(&self) -> bool {
            self.progress.is_done()
        }
    }

    fn counted(limit: Duration) -> Arc<Counted> {
        Arc::new(Counted {
            progress: Progress::default(),
            limit,
            cuts: AtomicUsize::new(0),
        })
    }

    #[test]
    fn a_body_held_up_by_the_client_is_cut_once_and_others_are_not() {
        let limit = Duration::from_millis(50);
        let stalled = counted(limit);
        let waiting = counted(limit);
        let ended = counted(limit);
        waiting.progress.waiting_on_upstream();
        for b in [&stalled, &waiting, &ended] {
            watch(b.clone(), Instant::now() + limit);
        }
        ended.progress.end();
        let guard = Instant::now() + Duration::from_secs(30);
        while stalled.cuts.load(Ordering::Relaxed) == 0 && Instant::now() < guard {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(stalled.cuts.load(Ordering::Relaxed), 1);
        // Several limits later: the body waiting on the upstream and the ended one
        // were never cut, and the stalled one only once.
        std::thread::sleep(limit * 4);
        assert_eq!(stalled.cuts.load(Ordering::Relaxed), 1);
        assert_eq!(waiting.cuts.load(Ordering::Relaxed), 0);
        assert_eq!(ended.cuts.load(Ordering::Relaxed), 0);
        waiting.progress.end();
    }

    #[test]
    fn ended_bodies_do_not_pile_up_before_their_deadline() {
        // An hour's limit: the sweeper will not look at these; registering purges them.
        let limit = Duration::from_secs(3600);
        for _ in 0..20_000 {
            let b = counted(limit);
            watch(b.clone(), Instant::now() + limit);
            b.progress.end();
        }
        let held = sweeper().watched.lock().bodies.len();
        assert!(held < 2 * PURGE_MIN + 64, "{held} bodies held");
    }

    #[test]
    fn progress_moves_the_deadline() {
        let p = Progress::default();
        let limit = Duration::from_secs(3600);
        let now = Instant::now();
        assert!(matches!(p.check(now, limit), Check::Due(_)));
        assert_eq!(p.check(now + limit * 2, limit), Check::Stalled);
        p.waiting_on_upstream();
        assert!(matches!(p.check(now + limit * 2, limit), Check::Due(_)));
        assert!(!p.end());
        assert_eq!(p.check(now, limit), Check::Done);
        assert!(p.end());
    }
}
