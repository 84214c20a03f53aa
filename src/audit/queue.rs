//! The auditor's two bounded queues (signed-in users' decisions, anonymous refusals)
//! and the worker's wake-up: one per batch, not one per record.
//!
//! A record is pushed under a short lock; the worker is woken only when the queues go
//! from empty to non-empty (a batch begins: the worker then waits out
//! `batch_interval`) or when they reach `batch_max` (the batch is full: written at
//! once). Taking a batch swaps in a spare buffer, so in a steady state queueing a
//! record allocates nothing.

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::packed::Queued;

/// Which queue a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Decisions,
    Anonymous,
}

/// The queue was full; the record was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

#[derive(Default)]
struct Lanes {
    decisions: Vec<Queued>,
    anonymous: Vec<Queued>,
    /// Emptied buffers kept for reuse.
    spare: Vec<Vec<Queued>>,
}

/// The two queues behind one lock, and the worker's wake-up.
pub struct BatchQueue {
    lanes: Mutex<Lanes>,
    decisions_capacity: usize,
    anonymous_capacity: usize,
    batch_max: usize,
    ready: Notify,
}

impl BatchQueue {
    pub fn new(decisions_capacity: usize, anonymous_capacity: usize, batch_max: usize) -> Self {
        BatchQueue {
            lanes: Mutex::new(Lanes::default()),
            decisions_capacity,
            anonymous_capacity,
            batch_max: batch_max.max(1),
            ready: Notify::new(),
        }
    }

    /// Queues `record` without waiting; [`Full`] when its lane has no room.
    pub fn push(&self, lane: Lane, record: Queued) -> Result<(), Full> {
        let total = {
            let mut l = self.lanes.lock();
            let (queue, capacity) = match lane {
                Lane::Decisions => (&mut l.decisions, self.decisions_capacity),
                Lane::Anonymous => (&mut l.anonymous, self.anonymous_capacity),
            };
            if queue.len() >= capacity {
                return Err(Full);
            }
            queue.push(record);
            l.decisions.len() + l.anonymous.len()
        };
        if total == 1 || total == self.batch_max {
            self.ready.notify_one();
        }
        Ok(())
    }

    /// Records waiting: (decisions, anonymous refusals).
    pub fn depth(&self) -> (usize, usize) {
        let l = self.lanes.lock();
        (l.decisions.len(), l.anonymous.len())
    }

    /// Records waiting in both queues.
    pub fn len(&self) -> usize {
        let (d, a) = self.depth();
        d + a
    }

    /// Whether the current batch is full.
    pub fn batch_full(&self) -> bool {
        self.len() >= self.batch_max
    }

    /// Waits until a record was queued since the last wake-up, or a batch filled.
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Takes up to `batch_max` records (0: every record), decisions first, into
    /// `batch` (which should be empty; its buffer is kept for reuse).
    pub fn take(&self, batch: &mut Vec<Queued>, max: usize) {
        let mut l = self.lanes.lock();
        let l = &mut *l;
        let everything = max == 0 || l.decisions.len() + l.anonymous.len() <= max;
        if everything && batch.is_empty() && l.anonymous.is_empty() {
            // The common case: swap the whole queue out, leave a spare buffer in.
            let spare = l.spare.pop().unwrap_or_default();
            let taken = std::mem::replace(&mut l.decisions, spare);
            let emptied = std::mem::replace(batch, taken);
            // A buffer grown past a few batches by a burst is let go.
            let keep = emptied.capacity() > 0 && emptied.capacity() <= 4 * self.batch_max;
            if keep && l.spare.is_empty() {
                l.spare.push(emptied);
            }
            return;
        }
        let room = |b: &Vec<Queued>| {
            if max == 0 {
                usize::MAX
            } else {
                max - b.len().min(max)
            }
        };
        let n = room(batch).min(l.decisions.len());
        batch.extend(l.decisions.drain(..n));
        let n = room(batch).min(l.anonymous.len());
        batch.extend(l.anonymous.drain(..n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::records;

    fn record(at: i64) -> Queued {
        records::overflow(at, 1, 1).into()
    }

    #[test]
    fn full_lanes_refuse_and_decisions_come_first() {
        let q = BatchQueue::new(2, 1, 10);
        assert_eq!(q.push(Lane::Anonymous, record(1)), Ok(()));
        assert_eq!(q.push(Lane::Anonymous, record(2)), Err(Full));
        assert_eq!(q.push(Lane::Decisions, record(3)), Ok(()));
        assert_eq!(q.push(Lane::Decisions, record(4)), Ok(()));
        assert_eq!(q.push(Lane::Decisions, record(5)), Err(Full));
        assert_eq!(q.depth(), (2, 1));
        let mut batch = Vec::new();
        q.take(&mut batch, 2);
        let ats: Vec<i64> = batch.iter().map(|r| r.view().at).collect();
        assert_eq!(ats, [3, 4]);
        batch.clear();
        q.take(&mut batch, 0);
        let ats: Vec<i64> = batch.iter().map(|r| r.view().at).collect();
        assert_eq!(ats, [1]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_whole_queue_is_swapped_out_in_order() {
        let q = BatchQueue::new(100, 10, 100);
        for at in 0..50 {
            q.push(Lane::Decisions, record(at)).unwrap();
        }
        let mut batch = Vec::new();
        q.take(&mut batch, 100);
        let ats: Vec<i64> = batch.iter().map(|r| r.view().at).collect();
        assert_eq!(ats, (0..50).collect::<Vec<_>>());
        // The worker hands its emptied buffer back at its next take: the buffers
        // go round (the worker's, the queue's, a spare), none is made anew.
        for at in 50..53 {
            batch.clear();
            q.push(Lane::Decisions, record(at)).unwrap();
            q.take(&mut batch, 100);
            assert_eq!(batch.len(), 1);
        }
        assert!(batch.capacity() >= 50, "the first buffer is in use again");
    }

    #[tokio::test]
    async fn the_worker_is_woken_when_a_batch_begins_and_when_it_is_full() {
        let q = BatchQueue::new(100, 10, 3);
        q.push(Lane::Decisions, record(1)).unwrap();
        q.ready().await; // the first record
        q.push(Lane::Decisions, record(2)).unwrap();
        q.push(Lane::Decisions, record(3)).unwrap();
        q.ready().await; // the batch is full
        assert!(q.batch_full());
    }
}
