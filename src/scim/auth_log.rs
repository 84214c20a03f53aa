//! The log of refused SCIM and admin API credentials, bounded: at most
//! [`LINES_PER_SECOND`] lines a second, the rest counted and reported on the next line
//! that is written (`suppressed`), so an anonymous flood cannot fill the logs.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How many refusals a second are logged.
pub const LINES_PER_SECOND: u32 = 10;

/// A per-second budget of log lines.
#[derive(Debug)]
pub struct LogBudget {
    per_second: u32,
    state: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    start: Option<Instant>,
    written: u32,
    suppressed: u64,
}

impl LogBudget {
    pub fn new(per_second: u32) -> Self {
        LogBudget {
            per_second,
            state: Mutex::new(Window::default()),
        }
    }

    /// `Some(n)` when a line may be written now (`n` lines were suppressed since the
    /// last one written), `None` when this one is suppressed.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut w = self.state.lock();
        let expired = w
            .start
            .is_none_or(|s| now.saturating_duration_since(s) >= Duration::from_secs(1));
        if expired {
            w.start = Some(now);
            w.written = 0;
        }
        if w.written >= self.per_second {
            w.suppressed += 1;
            return None;
        }
        w.written += 1;
        Some(std::mem::take(&mut w.suppressed))
    }
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget::new(LINES_PER_SECOND)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_and_counted_on_the_next_line() {
        let budget = LogBudget::new(3);
        let t0 = Instant::now();
        let admitted: Vec<_> = (0..10).map(|_| budget.admit(t0)).collect();
        assert_eq!(admitted.iter().filter(|a| a.is_some()).count(), 3);
        assert_eq!(budget.admit(t0 + Duration::from_secs(1)), Some(7));
        assert_eq!(budget.admit(t0 + Duration::from_secs(1)), Some(0));
    }
}
