//! The application's one shutdown tree: a root token, a branch per stage, a child
//! token per background task, and one [`TaskTracker`] every background task runs on.
//!
//! ```text
//! root                      cancelled last (or when a `Running` is dropped unstopped)
//! ├── serving               cancelled first: the shutdown signal
//! │   ├── listener          stops accepting, drains its connections
//! │   ├── session purger, replica follower, reload subscriber,
//! │   └── certificate watcher, identity-provider discovery
//! ├── drained               cancelled once the listener has drained
//! │   ├── ops listener      health and metrics answer through the drain
//! │   └── live streams      tunnels still open are cut
//! └── writing               then stopped one by one
//!     ├── directory writer  finishes the changes it has queued
//!     ├── audit worker      writes what is queued
//!     └── audit sinks       ship what was written
//! ```
//!
//! [`super::lifecycle`] walks the tree in that order; nothing is spawned outside it
//! except request-scoped tasks, which end with the request or connection that owns them
//! (each spawn site says so).

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The tokens and the tracker of one application (see the module doc).
#[derive(Clone)]
pub struct ShutdownTree {
    root: CancellationToken,
    serving: CancellationToken,
    drained: CancellationToken,
    writing: CancellationToken,
    tracker: TaskTracker,
}

impl Default for ShutdownTree {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownTree {
    /// A tree with nothing running yet.
    pub fn new() -> Self {
        let root = CancellationToken::new();
        ShutdownTree {
            serving: root.child_token(),
            drained: root.child_token(),
            writing: root.child_token(),
            root,
            tracker: TaskTracker::new(),
        }
    }

    /// A token for a task that serves: cancelled as soon as shutdown begins.
    pub fn serving_token(&self) -> CancellationToken {
        self.serving.child_token()
    }

    /// A token for what outlives the drain of the listener: cancelled once it has.
    pub fn drained_token(&self) -> CancellationToken {
        self.drained.child_token()
    }

    /// A token for a task that writes: cancelled by the lifecycle once the listener
    /// has drained (or with the root).
    pub fn writing_token(&self) -> CancellationToken {
        self.writing.child_token()
    }

    /// The tracker every background task is spawned on.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Spawns a serving task on the tracker; `task` gets its own child token.
    pub fn spawn_serving<F>(&self, task: impl FnOnce(CancellationToken) -> F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task(self.serving_token()))
    }

    /// The shutdown signal: the serving branch is cancelled.
    pub fn begin(&self) {
        self.serving.cancel();
    }

    /// The listener has drained: the drained branch is cancelled.
    pub fn listener_drained(&self) {
        self.drained.cancel();
    }

    /// Whether shutdown has begun.
    pub fn has_begun(&self) -> bool {
        self.serving.is_cancelled()
    }

    /// Cancels whatever still runs and waits until every task has ended.
    pub async fn finish(&self) {
        self.root.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Cancels the whole tree at once, without waiting (a `Running` dropped unstopped).
    pub fn cancel_all(&self) {
        self.root.cancel();
        self.tracker.close();
    }

    /// How many background tasks are alive.
    pub fn live_tasks(&self) -> usize {
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serving_tasks_stop_at_the_signal_and_writing_ones_only_with_the_root() {
        let tree = ShutdownTree::new();
        let serving = tree.spawn_serving(|stop| async move { stop.cancelled().await });
        let drained = tree.drained_token();
        let writing_token = tree.writing_token();
        let writing = tree
            .tracker()
            .spawn(async move { writing_token.cancelled().await });
        assert_eq!(tree.live_tasks(), 2);
        tree.begin();
        serving.await.unwrap();
        assert!(tree.has_begun());
        assert_eq!(tree.live_tasks(), 1, "the writing task outlives the signal");
        assert!(!writing.is_finished());
        tree.listener_drained();
        assert!(drained.is_cancelled());
        tree.finish().await;
        assert_eq!(tree.live_tasks(), 0);
        assert!(writing.is_finished());
    }
}
