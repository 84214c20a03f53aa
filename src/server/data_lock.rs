//! One server per data directory: the exclusive lock `serve` holds on
//! `<data_dir>/scimgate.lock` for as long as it runs.
//!
//! The lock is the operating system's advisory file lock (`flock` on Unix), taken with
//! [`std::fs::File::try_lock`]; it goes with the process, so the file a killed server
//! leaves behind blocks nothing. The file holds the holder's pid, for the message that
//! refuses a second server. It applies with either store: with PostgreSQL the data
//! directory still holds the assertion key and the audit sinks' cursors and spool, which
//! two processes must not share. The `token`, `audit` and `policy` commands do not take
//! it: they work beside a running server through the store.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "scimgate.lock";

/// Why the data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "data directory {dir} in use by pid {pid}: another scimgate server runs on it; \
         stop it first or give this one its own data directory (--data)"
    )]
    InUse {
        /// The data directory.
        dir: PathBuf,
        /// The holder's pid as its lock file says (`unknown` when unreadable).
        pid: String,
    },
    /// The lock file could not be created, locked or written.
    #[error("cannot lock the data directory ({path}): {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Creates the data directory if needed and takes its lock, or says who holds it.
    pub fn acquire(dir: &Path) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::InUse {
                    dir: dir.to_path_buf(),
                    pid: holder_pid(&mut file),
                })
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(DataDirLock { _file: file })
    }
}

/// The pid the holder wrote (it writes it right after locking: wait a moment for it).
fn holder_pid(file: &mut File) -> String {
    for _ in 0..20 {
        let mut text = String::new();
        let read = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| file.read_to_string(&mut text));
        if let Ok(pid) = text.trim().parse::<u32>() {
            return pid.to_string();
        }
        if read.is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    "unknown".to_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_pid_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        let want = format!(
            "data directory {} in use by pid {}",
            dir.path().display(),
            std::process::id()
        );
        assert!(err.to_string().starts_with(&want), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
