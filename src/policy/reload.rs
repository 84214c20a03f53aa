//! The live policy set: read lock-free by every request, replaced whole on reload.
//!
//! A reload builds the new set completely and swaps it in only if it is valid; a bad
//! file leaves the running set in force, is logged, and shows in [`ReloadStatus`].
//! Each successful reload that changes the policies bumps a generation counter that
//! subscribers (the server, to re-check open streams) watch. [`PolicyHandle::watch`]
//! reloads when files in the directory change, after ~200 ms of quiet. Once the
//! directory is known ([`PolicyHandle::set_directory`]), a reload that applies a set logs
//! its [`warnings`](super::warnings) (groups nobody is in) at WARN, and
//! [`PolicyHandle::warnings`] gives those of the set in force (the admin Policy page).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{EventKind, RecursiveMode, Watcher};
use parking_lot::Mutex;

use super::error::PolicyError;
use super::set::PolicySet;
use super::warnings::{self, GroupWarning};
use crate::clock::{self, SharedClock};

/// How long the directory must be quiet before a change is loaded.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// What one reload did, told to the observer (the audit log).
#[derive(Debug, Clone, Copy)]
pub enum ReloadEvent<'a> {
    /// A changed set is now in force.
    Applied { digest: &'a str, generation: u64 },
    /// The files were refused; the set in force stays.
    Refused { error: &'a str },
}

/// Called after every reload that changed the set or was refused.
pub type ReloadObserver = Box<dyn Fn(ReloadEvent<'_>) + Send + Sync>;

/// What the last reload attempts did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadStatus {
    /// Unix milliseconds of the last successful load.
    pub last_success_ms: i64,
    /// Digest of the set in force.
    pub digest: String,
    /// Why the latest attempt failed, if it did (the set in force is older).
    pub last_error: Option<String>,
    /// Bumped by every successful reload that changed the policies.
    pub generation: u64,
}

/// The live policy set of a directory.
pub struct PolicyHandle {
    dir: PathBuf,
    current: ArcSwap<PolicySet>,
    status: Mutex<ReloadStatus>,
    generation: tokio::sync::watch::Sender<u64>,
    clock: SharedClock,
    /// Held for a whole reload, so that two reloads cannot swap in out of order.
    reloading: Mutex<()>,
    observer: std::sync::OnceLock<ReloadObserver>,
    /// The directory the policies' groups are checked against.
    directory: std::sync::OnceLock<Arc<crate::directory::Directory>>,
    /// Reloaded with this one (the shadow set, so SIGHUP reloads both).
    companion: std::sync::OnceLock<Arc<PolicyHandle>>,
}

impl std::fmt::Debug for PolicyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyHandle")
            .field("dir", &self.dir)
            .field("status", &*self.status.lock())
            .finish()
    }
}

impl PolicyHandle {
    /// Loads `dir`; the first load must succeed.
    pub fn load(dir: PathBuf) -> Result<Arc<PolicyHandle>, PolicyError> {
        Self::load_with_clock(dir, clock::system())
    }

    /// [`PolicyHandle::load`] with a given clock (for status times).
    pub fn load_with_clock(
        dir: PathBuf,
        clock: SharedClock,
    ) -> Result<Arc<PolicyHandle>, PolicyError> {
        let set = PolicySet::load_dir(&dir)?;
        let status = ReloadStatus {
            last_success_ms: clock::to_millis(clock.now()),
            digest: set.digest().to_owned(),
            last_error: None,
            generation: 0,
        };
        tracing::info!(dir = %dir.display(), routes = set.routes().len(), digest = %set.digest(), "policies loaded");
        let (generation, _) = tokio::sync::watch::channel(0);
        Ok(Arc::new(PolicyHandle {
            dir,
            current: ArcSwap::from_pointee(set),
            status: Mutex::new(status),
            generation,
            clock,
            reloading: Mutex::new(()),
            observer: std::sync::OnceLock::new(),
            directory: std::sync::OnceLock::new(),
            companion: std::sync::OnceLock::new(),
        }))
    }

    /// The set in force (lock-free).
    pub fn current(&self) -> Arc<PolicySet> {
        self.current.load_full()
    }

    /// The directory the policies come from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads the directory again. On error the set in force stays, the error is logged
    /// and recorded in the status, and returned.
    pub fn reload(&self) -> Result<(), PolicyError> {
        if let Some(companion) = self.companion.get() {
            // Its refusal is logged and recorded in its own status.
            let _ = companion.reload();
        }
        let _one_at_a_time = self.reloading.lock();
        match PolicySet::load_dir(&self.dir) {
            Ok(set) => {
                let now = clock::to_millis(self.clock.now());
                let mut status = self.status.lock();
                let changed = set.digest() != status.digest;
                status.last_success_ms = now;
                status.last_error = None;
                if changed {
                    status.digest = set.digest().to_owned();
                    status.generation += 1;
                    tracing::info!(dir = %self.dir.display(), routes = set.routes().len(), digest = %set.digest(), generation = status.generation, "policies reloaded");
                    let set = Arc::new(set);
                    self.current.store(set.clone());
                    self.generation.send_replace(status.generation);
                    let (digest, generation) = (status.digest.clone(), status.generation);
                    drop(status);
                    self.tell(ReloadEvent::Applied {
                        digest: &digest,
                        generation,
                    });
                    if let Some(directory) = self.directory.get() {
                        warnings::log(&warnings::group_warnings(&set, directory));
                    }
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "policy reload refused; the last good policies stay in force");
                let error = e.to_string();
                self.status.lock().last_error = Some(error.clone());
                self.tell(ReloadEvent::Refused { error: &error });
                Err(e)
            }
        }
    }

    /// Sets the directory the policies' groups are checked against (once; later calls
    /// are ignored) and logs the warnings of the set in force.
    pub fn set_directory(&self, directory: Arc<crate::directory::Directory>) {
        if self.directory.set(directory).is_ok() {
            warnings::log(&self.warnings());
        }
    }

    /// The warnings of the set in force against the directory as it is now (none
    /// before [`PolicyHandle::set_directory`]).
    pub fn warnings(&self) -> Vec<GroupWarning> {
        match self.directory.get() {
            Some(directory) => warnings::group_warnings(&self.current(), directory),
            None => Vec::new(),
        }
    }

    /// Sets a set reloaded whenever this one is (once; later calls are ignored).
    pub fn set_companion(&self, companion: Arc<PolicyHandle>) {
        let _ = self.companion.set(companion);
    }

    /// Sets the observer told about each reload (once; later calls are ignored).
    pub fn set_observer(&self, observer: ReloadObserver) {
        let _ = self.observer.set(observer);
    }

    fn tell(&self, event: ReloadEvent<'_>) {
        if let Some(observe) = self.observer.get() {
            observe(event);
        }
    }

    /// What the last reloads did.
    pub fn status(&self) -> ReloadStatus {
        self.status.lock().clone()
    }

    /// The generation counter, bumped on every successful reload that changed the set.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Watches the directory and reloads after changes (debounced). Stops when the
    /// guard is dropped.
    pub fn watch(self: &Arc<Self>) -> Result<WatchGuard, PolicyError> {
        let (tx, rx) = mpsc::channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                match event {
                    // Reading the files is itself an access; reacting to it would loop.
                    Ok(e) if matches!(e.kind, EventKind::Access(_)) => {}
                    Ok(_) => {
                        let _ = tx.send(());
                    }
                    Err(e) => tracing::warn!(error = %e, "policy watcher error"),
                }
            })
            .map_err(|source| self.watch_error(source))?;
        watcher
            .watch(&self.dir, RecursiveMode::NonRecursive)
            .map_err(|source| self.watch_error(source))?;
        let stop = Arc::new(AtomicBool::new(false));
        let handle = Arc::downgrade(self);
        let thread_stop = stop.clone();
        // A thread (notify's channel is blocking), outside the task tracker: it ends
        // within a second of the guard being dropped, which the server's lifecycle
        // does at shutdown.
        std::thread::Builder::new()
            .name("policy-watch".into())
            .spawn(move || watch_loop(&rx, &handle, &thread_stop))
            .map_err(PolicyError::WatchThread)?;
        Ok(WatchGuard {
            _watcher: watcher,
            stop,
        })
    }

    fn watch_error(&self, source: notify::Error) -> PolicyError {
        PolicyError::Watch {
            path: self.dir.display().to_string(),
            source,
        }
    }
}

/// Waits for change events, lets them settle, reloads; ends when told to stop.
fn watch_loop(rx: &mpsc::Receiver<()>, handle: &Weak<PolicyHandle>, stop: &AtomicBool) {
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => {
                if stop.load(Ordering::Acquire) {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
        loop {
            match rx.recv_timeout(DEBOUNCE) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if stop.load(Ordering::Acquire) {
            return;
        }
        let Some(handle) = handle.upgrade() else {
            return;
        };
        // A refused reload is logged and recorded by `reload` itself.
        let _ = handle.reload();
    }
}

/// Keeps a directory watch alive; dropping it stops the watch.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
    stop: Arc<AtomicBool>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for WatchGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchGuard").finish_non_exhaustive()
    }
}
