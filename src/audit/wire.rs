//! The JSON form of a stored record, as every sink ships it (one object per line in
//! files and on stdout; an array of them per HTTP POST).
//!
//! `{"seq", "at" (RFC 3339), "at_ms", "actor", "action", "target", "before", "after",
//! "detail", "prev_hash", "hash"}`. `before`, `after` and `detail` are embedded as JSON
//! (a text that is not JSON is kept as a string). The hashes cover the stored texts, so
//! `scimgate audit verify` on the store is the authority on integrity.

use serde_json::{Map, Value};

use crate::clock::rfc3339_millis;
use crate::record::AuditRow;

fn embedded(text: &Option<String>) -> Value {
    match text {
        None => Value::Null,
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
    }
}

/// The record as a JSON object.
pub fn to_json(row: &AuditRow) -> Value {
    let e = &row.entry;
    let mut m = Map::new();
    m.insert("seq".into(), row.seq.into());
    m.insert("at".into(), rfc3339_millis(e.at).into());
    m.insert("at_ms".into(), e.at.into());
    m.insert("actor".into(), e.actor.as_str().into());
    m.insert("action".into(), e.action.as_str().into());
    m.insert("target".into(), e.target.as_str().into());
    m.insert("before".into(), embedded(&e.before));
    m.insert("after".into(), embedded(&e.after));
    m.insert("detail".into(), embedded(&e.detail));
    m.insert("prev_hash".into(), row.prev_hash.as_str().into());
    m.insert("hash".into(), row.hash.as_str().into());
    Value::Object(m)
}

/// The record as one line of JSON (no trailing newline).
pub fn to_line(row: &AuditRow) -> String {
    to_json(row).to_string()
}
