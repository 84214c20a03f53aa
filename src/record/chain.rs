//! The audit hash chain: each record's hash covers the previous record's hash and the
//! record's own fields, so an edited, removed or reordered record breaks the chain.

use sha2::{Digest, Sha256};

use super::AuditEntry;

/// The hash that starts the audit chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 (hex) over the previous hash and the record's fields, each length-prefixed.
/// `detail` is hashed only when present, so records written before it existed keep
/// their hashes.
pub fn record_hash(prev: &str, e: &AuditEntry) -> String {
    let mut h = Sha256::new();
    let at = e.at.to_string();
    for part in [
        prev,
        at.as_str(),
        e.actor.as_str(),
        e.action.as_str(),
        e.target.as_str(),
        e.before.as_deref().unwrap_or(""),
        e.after.as_deref().unwrap_or(""),
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    if let Some(d) = &e.detail {
        h.update((d.len() as u64).to_be_bytes());
        h.update(d.as_bytes());
    }
    hex::encode(h.finalize())
}
