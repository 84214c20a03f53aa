//! The JSON-lines file sink, rotated by size: before a write would take the file past
//! `max_bytes`, `path` becomes `path.1`, `path.1` becomes `path.2`, and so on; the
//! file past `keep` is removed. Each batch is flushed and synced before the cursor moves.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Sink, SinkCounters, SinkError};
use crate::audit::wire;
use crate::config::audit::FileSinkConfig;
use crate::record::AuditRow;

/// Appends records to a file and rotates it.
#[derive(Debug)]
pub struct FileSink {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: Option<File>,
    size: u64,
    counters: Arc<SinkCounters>,
}

/// `path` with `.n` appended.
pub fn rotated_path(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

impl FileSink {
    pub fn new(config: &FileSinkConfig) -> FileSink {
        FileSink {
            path: config.path.clone(),
            max_bytes: config.max_bytes,
            keep: config.keep,
            file: None,
            size: 0,
            counters: Arc::default(),
        }
    }

    fn err(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            sink: "file",
            path: self.path.display().to_string(),
            source,
        }
    }

    fn open(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.size = f.metadata()?.len();
            self.file = Some(f);
        }
        match self.file.as_mut() {
            Some(f) => Ok(f),
            None => Err(std::io::ErrorKind::NotFound.into()),
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_data()?;
        }
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            for n in (1..self.keep).rev() {
                match std::fs::rename(rotated_path(&self.path, n), rotated_path(&self.path, n + 1))
                {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, rotated_path(&self.path, 1))?;
        }
        tracing::info!(path = %self.path.display(), "audit file rotated");
        self.size = 0;
        Ok(())
    }

    fn write_rows(&mut self, rows: &[AuditRow]) -> std::io::Result<()> {
        for row in rows {
            let mut line = wire::to_line(row);
            line.push('\n');
            let len = line.len() as u64;
            self.open()?;
            if self.size > 0 && self.size + len > self.max_bytes {
                self.rotate()?;
            }
            self.open()?.write_all(line.as_bytes())?;
            self.size += len;
        }
        if let Some(f) = self.file.as_mut() {
            f.flush()?;
            f.sync_data()?;
        }
        Ok(())
    }
}

impl Sink for FileSink {
    fn name(&self) -> &'static str {
        "file"
    }

    fn write(&mut self, rows: &[AuditRow]) -> Result<(), SinkError> {
        if let Err(e) = self.write_rows(rows) {
            // Reopen next time (the file may have been moved away or the disk filled).
            self.file = None;
            return Err(self.err(e));
        }
        let n = rows.len() as u64;
        self.counters.taken.fetch_add(n, Ordering::Relaxed);
        self.counters.delivered.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    fn counters(&self) -> &Arc<SinkCounters> {
        &self.counters
    }
}
