//! Replays every fuzz seed (`fuzz/corpus/{filter,patch_path}/*`) through
//! both parsers (and filter evaluation), asserting that nothing panics.

use std::fs;
use std::path::PathBuf;

use serde_json::json;

use super::filter::parse_filter;
use super::path::parse_path;
use super::schema::ResourceKind;

fn seeds() -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut out = Vec::new();
    for dir in ["filter", "patch_path"] {
        let entries = fs::read_dir(root.join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}"));
        for entry in entries.flatten() {
            let p = entry.path();
            let bytes = fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((p, bytes));
        }
    }
    out
}

#[test]
fn corpus_has_enough_seeds() {
    let s = seeds();
    let count = |d: &str| {
        s.iter()
            .filter(|(p, _)| p.to_string_lossy().contains(d))
            .count()
    };
    assert!(count("/filter/") >= 30 && count("/patch_path/") >= 30);
}

#[test]
fn every_seed_goes_through_both_parsers_without_panic() {
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1", "userName": "bjensen", "active": true,
        "emails": [{"value": "b@x", "type": "work"}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z"}
    });
    let group = json!({"id": "g1", "displayName": "Eng", "members": [{"value": "u1"}]});
    for (path, bytes) in seeds() {
        let s = String::from_utf8_lossy(&bytes);
        for depth in [0, 3, 16, usize::MAX] {
            if let Ok(f) = parse_filter(&s, depth) {
                let _ = f.matches(ResourceKind::User, &user);
                let _ = f.matches(ResourceKind::Group, &group);
                let _ = f.as_equality();
            }
        }
        let _ = parse_path(&s);
        // Every prefix too: truncated input is the most common malformation.
        for (i, _) in s.char_indices().take(400) {
            let _ = parse_filter(&s[..i], 16);
            let _ = parse_path(&s[..i]);
        }
        let _ = path;
    }
}
