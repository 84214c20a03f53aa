//! The HTTP sink's on-disk backlog: records waiting for the SIEM, bounded in bytes.
//!
//! `queue.jsonl` holds one record per line; `acked` holds how many of its bytes the
//! SIEM has accepted. New records are appended (and synced); the sender reads a batch
//! from the acknowledged offset and moves it on success. When everything is
//! acknowledged the file is emptied; when the acknowledged prefix grows past the bound
//! it is compacted away. Past the bound, `drop_oldest` skips the oldest waiting lines
//! and `drop_newest` refuses the new ones; either way the counts are returned
//! ([`Discarded`]) so the caller can report them.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::cursor::write_atomically;
use crate::config::audit::SpoolFull;

/// A bounded queue of lines on disk.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    file: File,
    len: u64,
    acked: u64,
    max_bytes: u64,
    on_full: SpoolFull,
    /// The end offset of the batch being sent, if one is.
    in_flight: Option<u64>,
}

/// What an append discarded to stay within the bound.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Discarded {
    /// New lines that were not spooled.
    pub incoming: u64,
    /// Waiting lines skipped to make room (`drop_oldest`).
    pub spooled: u64,
}

impl Discarded {
    /// Every record lost, new or waiting.
    pub fn total(self) -> u64 {
        self.incoming + self.spooled
    }
}

/// A batch read for sending: the lines and the offset just past them.
#[derive(Debug)]
pub struct Batch {
    pub lines: Vec<String>,
    pub end: u64,
}

impl Spool {
    /// Opens (or creates) the spool in `dir`.
    pub fn open(dir: &Path, max_bytes: u64, on_full: SpoolFull) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(dir.join("queue.jsonl"))?;
        let len = file.metadata()?.len();
        let acked = match std::fs::read_to_string(dir.join("acked")) {
            Ok(t) => t.trim().parse::<u64>().unwrap_or(0).min(len),
            Err(_) => 0,
        };
        Ok(Spool {
            dir: dir.to_owned(),
            file,
            len,
            acked,
            max_bytes,
            on_full,
            in_flight: None,
        })
    }

    /// Bytes waiting to be delivered.
    pub fn backlog(&self) -> u64 {
        self.len - self.acked
    }

    fn save_acked(&self) -> std::io::Result<()> {
        write_atomically(&self.dir.join("acked"), self.acked.to_string().as_bytes())
    }

    /// Reads lines from `from` until `bytes` have been covered; returns how many lines
    /// and the offset after them.
    fn skip_lines(&mut self, from: u64, bytes: u64) -> std::io::Result<(u64, u64)> {
        self.file.seek(SeekFrom::Start(from))?;
        let mut reader = BufReader::new(&self.file);
        let (mut lines, mut at) = (0u64, from);
        let mut buf = Vec::new();
        while at < from + bytes {
            buf.clear();
            let n = reader.read_until(b'\n', &mut buf)?;
            if n == 0 {
                break;
            }
            at += n as u64;
            lines += 1;
        }
        Ok((lines, at))
    }

    /// Appends lines (without newlines); returns what was discarded to stay within the
    /// bound.
    pub fn append(&mut self, lines: &[String]) -> std::io::Result<Discarded> {
        let sizes: Vec<u64> = lines.iter().map(|l| l.len() as u64 + 1).collect();
        let mut first = 0;
        let mut incoming: u64 = sizes.iter().sum();
        let mut dropped = Discarded::default();
        // What cannot fit even in an empty spool goes first: the oldest of the new
        // lines (drop_oldest) or the newest (drop_newest).
        let mut last = lines.len();
        while incoming > self.max_bytes && first < last {
            match self.on_full {
                SpoolFull::DropOldest => {
                    incoming -= sizes[first];
                    first += 1;
                }
                SpoolFull::DropNewest => {
                    last -= 1;
                    incoming -= sizes[last];
                }
            }
            dropped.incoming += 1;
        }
        let excess = (self.backlog() + incoming).saturating_sub(self.max_bytes);
        if excess > 0 {
            match self.on_full {
                SpoolFull::DropOldest => {
                    let (n, at) = self.skip_lines(self.acked, excess)?;
                    dropped.spooled += n;
                    self.acked = at;
                    self.save_acked()?;
                }
                SpoolFull::DropNewest => {
                    let room = self.max_bytes - self.backlog().min(self.max_bytes);
                    while incoming > room && first < last {
                        last -= 1;
                        incoming -= sizes[last];
                        dropped.incoming += 1;
                    }
                }
            }
        }
        self.compact()?;
        if first < last {
            let mut text = String::with_capacity(incoming as usize);
            for l in &lines[first..last] {
                text.push_str(l);
                text.push('\n');
            }
            self.file.write_all(text.as_bytes())?;
            self.file.sync_data()?;
            self.len += text.len() as u64;
        }
        Ok(dropped)
    }

    /// Reads up to `max` waiting lines for sending (none if a batch is in flight).
    pub fn peek(&mut self, max: usize) -> std::io::Result<Option<Batch>> {
        if self.in_flight.is_some() || self.backlog() == 0 {
            return Ok(None);
        }
        self.file.seek(SeekFrom::Start(self.acked))?;
        let mut reader = BufReader::new((&self.file).take(self.len - self.acked));
        let mut lines = Vec::new();
        let mut end = self.acked;
        let mut buf = String::new();
        while lines.len() < max {
            buf.clear();
            let n = reader.read_line(&mut buf)?;
            if n == 0 || !buf.ends_with('\n') {
                break;
            }
            end += n as u64;
            lines.push(buf.trim_end().to_owned());
        }
        if lines.is_empty() {
            return Ok(None);
        }
        self.in_flight = Some(end);
        Ok(Some(Batch { lines, end }))
    }

    /// The batch ending at `end` was delivered.
    pub fn ack(&mut self, end: u64) -> std::io::Result<()> {
        self.in_flight = None;
        if end > self.acked {
            self.acked = end.min(self.len);
            self.save_acked()?;
        }
        self.compact()
    }

    /// The batch in flight was not delivered; it will be read again.
    pub fn nack(&mut self) {
        self.in_flight = None;
    }

    /// Drops the acknowledged prefix when it is everything, or larger than the bound.
    fn compact(&mut self) -> std::io::Result<()> {
        if self.in_flight.is_some() || self.acked == 0 {
            return Ok(());
        }
        if self.acked < self.len && self.acked < self.max_bytes {
            return Ok(());
        }
        let path = self.dir.join("queue.jsonl");
        let tmp = self.dir.join("queue.jsonl.tmp");
        {
            let mut out = File::create(&tmp)?;
            self.file.seek(SeekFrom::Start(self.acked))?;
            std::io::copy(&mut (&self.file).take(self.len - self.acked), &mut out)?;
            out.sync_data()?;
        }
        std::fs::rename(&tmp, &path)?;
        self.file = OpenOptions::new().read(true).append(true).open(&path)?;
        self.len -= self.acked;
        self.acked = 0;
        self.save_acked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(range: std::ops::Range<u32>) -> Vec<String> {
        range.map(|i| format!("{{\"n\":{i:04}}}")).collect()
    }

    fn drain(s: &mut Spool) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(b) = s.peek(3).unwrap() {
            out.extend(b.lines);
            s.ack(b.end).unwrap();
        }
        out
    }

    #[test]
    fn delivers_in_order_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20, SpoolFull::DropOldest).unwrap();
        assert_eq!(s.append(&lines(0..5)).unwrap().total(), 0);
        let b = s.peek(2).unwrap().unwrap();
        s.ack(b.end).unwrap();
        drop(s);
        let mut s = Spool::open(dir.path(), 1 << 20, SpoolFull::DropOldest).unwrap();
        assert_eq!(drain(&mut s), lines(2..5));
        assert_eq!(s.backlog(), 0);
    }

    #[test]
    fn a_failed_batch_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 1 << 20, SpoolFull::DropOldest).unwrap();
        s.append(&lines(0..2)).unwrap();
        let b = s.peek(5).unwrap().unwrap();
        s.nack();
        assert_eq!(s.peek(5).unwrap().unwrap().lines, b.lines);
    }

    #[test]
    fn full_spool_drops_oldest_or_newest() {
        // Each line is 11 bytes; a 4096-byte bound holds 372 of them.
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(&dir.path().join("old"), 4096, SpoolFull::DropOldest).unwrap();
        assert_eq!(s.append(&lines(0..300)).unwrap().total(), 0);
        let d = s.append(&lines(300..400)).unwrap();
        assert_eq!((d.incoming, d.spooled), (0, 28));
        let got = drain(&mut s);
        assert_eq!(got.first().unwrap(), &lines(28..29)[0]);
        assert_eq!(got.last().unwrap(), &lines(399..400)[0]);

        let mut s = Spool::open(&dir.path().join("new"), 4096, SpoolFull::DropNewest).unwrap();
        assert_eq!(s.append(&lines(0..300)).unwrap().total(), 0);
        let d = s.append(&lines(300..400)).unwrap();
        assert_eq!((d.incoming, d.spooled), (28, 0));
        let got = drain(&mut s);
        assert_eq!(got.first().unwrap(), &lines(0..1)[0]);
        assert_eq!(got.last().unwrap(), &lines(371..372)[0]);
    }

    #[test]
    fn one_new_line_may_displace_several_waiting_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 4096, SpoolFull::DropOldest).unwrap();
        assert_eq!(s.append(&lines(0..372)).unwrap().total(), 0);
        let d = s.append(&["x".repeat(100)]).unwrap();
        assert_eq!((d.incoming, d.spooled), (0, 9));
        assert_eq!(drain(&mut s).len(), 372 - 9 + 1);
    }
}
