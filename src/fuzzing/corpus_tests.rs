//! Replays every committed fuzz seed (`fuzz/corpus/<target>/*`) through the property
//! check its fuzz target calls, so the corpora are exercised on stable by `cargo test`.

use std::fs;
use std::path::PathBuf;

fn seeds(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out: Vec<(PathBuf, Vec<u8>)> = entries
        .flatten()
        .map(|entry| {
            let p = entry.path();
            let bytes = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect();
    out.sort();
    assert!(out.len() >= 20, "{target}: only {} seeds", out.len());
    out
}

/// Every seed, and every prefix of it (truncation is the commonest malformation).
fn replay(target: &str, check: fn(&[u8])) {
    for (path, bytes) in seeds(target) {
        let name = path.display().to_string();
        let result = std::panic::catch_unwind(|| {
            check(&bytes);
            for end in 0..bytes.len().min(200) {
                check(&bytes[..end]);
            }
        });
        assert!(result.is_ok(), "seed {name} fails its property");
    }
}

#[test]
fn path_normalise_corpus_keeps_its_properties() {
    replay("path_normalise", super::check_path_normalise);
}

#[test]
fn path_match_corpus_keeps_its_properties() {
    replay("path_match", super::check_path_match);
}

#[test]
fn header_sanitise_corpus_keeps_its_properties() {
    replay("header_sanitise", super::check_header_sanitise);
}
