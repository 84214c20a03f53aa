//! The tailer: reads new records from the chain and hands them to every sink.
//!
//! Sinks are fed from the stored chain rather than from the decision queue, so records
//! others commit (directory changes written with the change, token events written by
//! the CLI) reach them too. A pass runs after every append and on a short interval;
//! each sink gets the rows after its own cursor, in chain order, and its cursor moves
//! only when it has taken them.

use std::path::Path;
use std::sync::Arc;

use super::sink::cursor::Cursor;
use super::sink::{Sink, SinkError};
use crate::record::{AuditQuery, AuditRow};
use crate::store::{Store, StoreError};

/// Rows read from the store per query.
const PAGE: usize = 1000;

struct Fed {
    sink: Box<dyn Sink>,
    cursor: Cursor,
}

/// The sinks and their cursors.
pub struct Tailer {
    store: Arc<dyn Store>,
    fed: Vec<Fed>,
}

/// Where a sink starts the first time it runs (no cursor file yet).
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// From the first record of the chain.
    Beginning,
    /// From the record after the last one stored now.
    End,
}

/// The last sequence number in the chain (0 when empty).
pub fn chain_head(store: &dyn Store) -> Result<u64, StoreError> {
    let last = store.audit_query(&AuditQuery {
        newest_first: true,
        limit: 1,
        ..AuditQuery::default()
    })?;
    Ok(last.first().map_or(0, |r| r.seq))
}

impl Tailer {
    pub fn new(store: Arc<dyn Store>) -> Tailer {
        Tailer {
            store,
            fed: Vec::new(),
        }
    }

    /// Adds a sink whose cursor lives in `cursor_dir/<name>.cursor`.
    pub fn add(
        &mut self,
        sink: Box<dyn Sink>,
        cursor_dir: &Path,
        start: Start,
    ) -> Result<(), SinkError> {
        let path = cursor_dir.join(format!("{}.cursor", sink.name()));
        let io = |source| SinkError::Io {
            sink: sink.name(),
            path: path.display().to_string(),
            source,
        };
        std::fs::create_dir_all(cursor_dir).map_err(io)?;
        let initial = match start {
            Start::Beginning => 0,
            Start::End => chain_head(self.store.as_ref())
                .map_err(|e| io(std::io::Error::other(e.to_string())))?,
        };
        let fresh = !path.exists();
        let mut cursor = Cursor::open(&path, initial).map_err(io)?;
        if fresh {
            // Where a new sink starts is kept at once: records appended while it
            // cannot write are still its to deliver after a restart.
            cursor.set(initial).map_err(io)?;
        }
        sink.counters()
            .cursor
            .store(cursor.get(), std::sync::atomic::Ordering::Relaxed);
        self.fed.push(Fed { sink, cursor });
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.fed.is_empty()
    }

    /// Feeds every sink everything after its cursor. Blocks.
    pub fn pass(&mut self) {
        loop {
            let Some(from) = self.fed.iter().map(|f| f.cursor.get()).min() else {
                return;
            };
            let rows = match self.store.audit_query(&AuditQuery {
                after_seq: Some(from),
                limit: PAGE,
                ..AuditQuery::default()
            }) {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "audit sinks cannot read the chain");
                    return;
                }
            };
            let mut progressed = false;
            for fed in &mut self.fed {
                progressed |= feed(fed, &rows);
            }
            if rows.len() < PAGE || !progressed {
                return;
            }
        }
    }
}

/// Gives one sink the rows after its cursor; whether its cursor moved.
fn feed(fed: &mut Fed, rows: &[AuditRow]) -> bool {
    let at = fed.cursor.get();
    let start = rows.partition_point(|r| r.seq <= at);
    let Some(last) = rows.last().filter(|_| start < rows.len()) else {
        return false;
    };
    let counters = fed.sink.counters().clone();
    if let Err(e) = fed.sink.write(&rows[start..]) {
        counters
            .errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::error!(error = %e, "audit sink write failed; will retry");
        return false;
    }
    if let Err(e) = fed.cursor.set(last.seq) {
        tracing::error!(sink = fed.sink.name(), error = %e, "audit sink cannot save its cursor");
    }
    counters
        .cursor
        .store(last.seq, std::sync::atomic::Ordering::Relaxed);
    true
}
