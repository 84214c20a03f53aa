//! The audit hash chain: each record's hash covers the previous record's hash and the
//! record's own fields, so an edited, removed or reordered record breaks the chain.

use aws_lc_rs::digest::{Context, SHA256};

use super::{AuditEntry, EntryView};

/// The hash that starts the audit chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A record's hash as lower-case hex, held on the stack (no allocation per record).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LinkHash([u8; 64]);

impl LinkHash {
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or(GENESIS_HASH)
    }
}

impl std::fmt::Debug for LinkHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SHA-256 (hex) over the previous hash and the record's fields, each length-prefixed.
/// `detail` is hashed only when present, so records written before it existed keep
/// their hashes.
pub fn record_hash(prev: &str, e: &AuditEntry) -> String {
    link_hash(prev, &e.view()).as_str().to_owned()
}

/// [`record_hash`] over borrowed fields, into a stack buffer. The SHA-256 is
/// aws-lc's (the TLS provider's), whose assembly takes the CPU's SHA extensions where
/// there are any and vector code elsewhere: one of these runs per record.
pub fn link_hash(prev: &str, e: &EntryView<'_>) -> LinkHash {
    let mut h = Context::new(&SHA256);
    let mut digits = [0u8; 20];
    let at = decimal(e.at, &mut digits);
    for part in [
        prev.as_bytes(),
        at,
        e.actor.as_bytes(),
        e.action.as_bytes(),
        e.target.as_bytes(),
        e.before.unwrap_or("").as_bytes(),
        e.after.unwrap_or("").as_bytes(),
    ] {
        h.update(&(part.len() as u64).to_be_bytes());
        h.update(part);
    }
    if let Some(d) = e.detail {
        h.update(&(d.len() as u64).to_be_bytes());
        h.update(d.as_bytes());
    }
    let mut hex = [0u8; 64];
    // 32 bytes always fit 64 hex digits.
    let _ = hex::encode_to_slice(h.finish().as_ref(), &mut hex);
    LinkHash(hex)
}

/// `n` in decimal (as `i64::to_string` writes it), in `buf`.
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn decimal_writes_what_to_string_writes() {
        for n in [0, 7, -7, 10, 1_769_846_400_123, i64::MAX, i64::MIN, -1] {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }

    #[test]
    fn a_known_record_keeps_its_hash() {
        // The hash of a record as the chain has always computed it: a change here
        // breaks `audit verify` on every existing database.
        let e = AuditEntry {
            at: 1_769_846_400_123,
            actor: "user:ann".into(),
            action: "access.allow".into(),
            target: "route:docs".into(),
            before: None,
            after: None,
            detail: Some("{\"method\":\"GET\"}".into()),
        };
        let mut h = Sha256::new();
        for part in [
            GENESIS_HASH,
            "1769846400123",
            "user:ann",
            "access.allow",
            "route:docs",
            "",
            "",
            "{\"method\":\"GET\"}",
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        let expected = hex::encode(h.finalize());
        assert_eq!(record_hash(GENESIS_HASH, &e), expected);
        assert_eq!(link_hash(GENESIS_HASH, &e.view()).as_str(), expected);
    }
}
