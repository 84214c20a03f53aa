//! The bounded queue between whoever reports events and the sender: a push never
//! waits; when the queue is full one event is dropped (the oldest or the new one, as
//! configured), counted, and logged at most once per [`LOG_EVERY`] with the number
//! dropped since the last line.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::event::Event;
use crate::config::access_requests::QueueFull;

/// The least time between two "queue full" log lines.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// Events waiting for the sender.
pub struct Queue {
    inner: Mutex<Inner>,
    capacity: usize,
    on_full: QueueFull,
    wake: Notify,
}

struct Inner {
    events: VecDeque<Event>,
    /// Dropped since the last log line, and when that was.
    unlogged: u64,
    logged_at: Option<Instant>,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// The queue was full: one event (the oldest or this one) was dropped.
    DroppedOne,
}

impl Queue {
    pub fn new(capacity: usize, on_full: QueueFull) -> Self {
        Queue {
            inner: Mutex::new(Inner {
                events: VecDeque::with_capacity(capacity.min(64)),
                unlogged: 0,
                logged_at: None,
            }),
            capacity: capacity.max(1),
            on_full,
            wake: Notify::new(),
        }
    }

    /// Queues `event` without waiting.
    pub fn push(&self, event: Event) -> Pushed {
        let mut inner = self.inner.lock();
        let pushed = if inner.events.len() < self.capacity {
            inner.events.push_back(event);
            Pushed::Queued
        } else {
            if self.on_full == QueueFull::DropOldest {
                inner.events.pop_front();
                inner.events.push_back(event);
            }
            inner.unlogged += 1;
            let now = Instant::now();
            if inner
                .logged_at
                .is_none_or(|at| now.duration_since(at) >= LOG_EVERY)
            {
                tracing::warn!(
                    dropped = inner.unlogged,
                    capacity = self.capacity,
                    policy = match self.on_full {
                        QueueFull::DropOldest => "drop_oldest",
                        QueueFull::DropNewest => "drop_newest",
                    },
                    "access-request webhook queue full; events dropped"
                );
                inner.unlogged = 0;
                inner.logged_at = Some(now);
            }
            Pushed::DroppedOne
        };
        drop(inner);
        self.wake.notify_one();
        pushed
    }

    /// The next event, waiting for one.
    pub async fn pop(&self) -> Event {
        loop {
            let notified = self.wake.notified();
            if let Some(event) = self.inner.lock().events.pop_front() {
                return event;
            }
            notified.await;
        }
    }

    /// How many events wait.
    pub fn len(&self) -> usize {
        self.inner.lock().events.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
