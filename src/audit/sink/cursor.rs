//! A sink's persisted position in the chain: one decimal sequence number in a file,
//! replaced atomically (write a temporary file, then rename).

use std::path::{Path, PathBuf};

/// The last sequence number a sink has taken, kept in `path`.
#[derive(Debug)]
pub struct Cursor {
    path: PathBuf,
    value: u64,
}

impl Cursor {
    /// Reads the cursor at `path`; `initial` when there is none yet.
    pub fn open(path: &Path, initial: u64) -> std::io::Result<Cursor> {
        let value = match std::fs::read_to_string(path) {
            Ok(text) => text.trim().parse().map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} does not hold a sequence number", path.display()),
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => initial,
            Err(e) => return Err(e),
        };
        Ok(Cursor {
            path: path.to_owned(),
            value,
        })
    }

    pub fn get(&self) -> u64 {
        self.value
    }

    /// Moves the cursor to `seq` and makes it durable.
    pub fn set(&mut self, seq: u64) -> std::io::Result<()> {
        write_atomically(&self.path, seq.to_string().as_bytes())?;
        self.value = seq;
        Ok(())
    }
}

/// Replaces `path` with `bytes` so a reader sees the old or the new content, never half.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        let mut c = Cursor::open(&p, 7).unwrap();
        assert_eq!(c.get(), 7);
        c.set(42).unwrap();
        assert_eq!(Cursor::open(&p, 0).unwrap().get(), 42);
        std::fs::write(&p, "x").unwrap();
        assert!(Cursor::open(&p, 0).is_err());
    }
}
