//! Bounds on what a client controls inside a record: the path (configurable,
//! `audit.max_path_bytes`), the method and the request id (fixed). A clipped path is
//! marked in the record with its full length and the SHA-256 of the full path, so
//! records of one long path can still be correlated.

use sha2::{Digest, Sha256};

pub use crate::config::audit::DEFAULT_MAX_PATH_BYTES;
/// The longest method kept (extension methods are client text).
pub const MAX_METHOD_BYTES: usize = 32;
/// The longest request id kept (forward-auth takes it from a header).
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A path as kept in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptPath<'a> {
    pub text: &'a str,
    /// Set when the path was clipped: its full length and SHA-256 (hex).
    pub clipped: Option<(usize, String)>,
}

/// `path` clipped to `max` bytes, with the full path's length and hash if it was.
pub fn keep_path(path: &str, max: usize) -> KeptPath<'_> {
    let text = clip(path, max);
    let clipped =
        (text.len() < path.len()).then(|| (path.len(), hex::encode(Sha256::digest(path))));
    KeptPath { text, clipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_keeps_whole_characters_and_marks_the_path() {
        assert_eq!(clip("abc", 8), "abc");
        assert_eq!(clip("aé", 2), "a");
        let long = "/x".repeat(1000);
        let k = keep_path(&long, 100);
        assert_eq!(k.text.len(), 100);
        let (len, hash) = k.clipped.unwrap();
        assert_eq!((len, hash.len()), (2000, 64));
        assert_eq!(keep_path("/short", 100).clipped, None);
    }
}
