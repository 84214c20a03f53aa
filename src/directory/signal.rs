//! The nudge from the follower to the directory writer: "the shared store may have
//! changes you have not applied". Pokes coalesce; the writer takes them between
//! batches, or waits for one when idle.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A coalescing catch-up request.
#[derive(Debug, Default)]
pub struct CatchUpSignal {
    pending: AtomicBool,
    notify: Notify,
}

impl CatchUpSignal {
    /// Asks the writer to catch up.
    pub fn poke(&self) {
        self.pending.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    /// Takes a pending request, if any.
    pub fn take(&self) -> bool {
        self.pending.swap(false, Ordering::AcqRel)
    }

    /// Waits until a request is pending, and takes it.
    pub async fn wait(&self) {
        loop {
            if self.take() {
                return;
            }
            self.notify.notified().await;
        }
    }
}
