//! A decision record packed into one allocation on the request path: the actor, the
//! target and the JSON detail share one buffer, the action is a constant, and the
//! worker hashes and stores it through borrowed views ([`EntryView`]) with no copy.
//! What is queued for the worker ([`Queued`]) is either such a record or an owned
//! [`AuditEntry`] (every other kind, rare).

use crate::record::{AuditEntry, EntryView};

/// One record in one buffer: `actor`, then `target`, then `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedEntry {
    at: i64,
    action: &'static str,
    text: String,
    actor_end: usize,
    target_end: usize,
    /// Whether a detail follows the target.
    has_detail: bool,
}

impl PackedEntry {
    /// Starts a record whose text is about `capacity` bytes long (one allocation when
    /// the estimate holds).
    pub fn builder(at: i64, action: &'static str, capacity: usize) -> PackedBuilder {
        PackedBuilder {
            at,
            action,
            buf: Vec::with_capacity(capacity),
            actor_end: 0,
            target_end: 0,
        }
    }

    pub fn view(&self) -> EntryView<'_> {
        EntryView {
            at: self.at,
            action: self.action,
            actor: self.text.get(..self.actor_end).unwrap_or(""),
            target: self.text.get(self.actor_end..self.target_end).unwrap_or(""),
            before: None,
            after: None,
            detail: if self.has_detail {
                self.text.get(self.target_end..)
            } else {
                None
            },
        }
    }
}

/// Writes a [`PackedEntry`]'s parts in order: actor, target, detail.
pub struct PackedBuilder {
    at: i64,
    action: &'static str,
    buf: Vec<u8>,
    actor_end: usize,
    target_end: usize,
}

impl PackedBuilder {
    /// The actor, from its parts (e.g. `user:` and the name).
    pub fn actor(mut self, parts: &[&str]) -> Self {
        for p in parts {
            self.buf.extend_from_slice(p.as_bytes());
        }
        self.actor_end = self.buf.len();
        self
    }

    /// The target, from its parts.
    pub fn target(mut self, parts: &[&str]) -> Self {
        for p in parts {
            self.buf.extend_from_slice(p.as_bytes());
        }
        self.target_end = self.buf.len();
        self
    }

    /// The detail, serialised as JSON after the target; the record. (Plain strings,
    /// numbers and addresses always serialise; were one to fail, the record would
    /// have no detail, as `serde_json::to_string(..).ok()` gave before.)
    pub fn detail(mut self, detail: &impl serde::Serialize) -> PackedEntry {
        let has_detail = serde_json::to_writer(&mut self.buf, detail).is_ok();
        if !has_detail {
            self.buf.truncate(self.target_end);
        }
        let text = String::from_utf8(self.buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        PackedEntry {
            at: self.at,
            action: self.action,
            text,
            actor_end: self.actor_end,
            target_end: self.target_end,
            has_detail,
        }
    }
}

/// A record waiting for the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queued {
    Entry(AuditEntry),
    Packed(PackedEntry),
}

impl Queued {
    pub fn view(&self) -> EntryView<'_> {
        match self {
            Queued::Entry(e) => e.view(),
            Queued::Packed(p) => p.view(),
        }
    }
}

impl From<AuditEntry> for Queued {
    fn from(e: AuditEntry) -> Self {
        Queued::Entry(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parts_come_back_as_written() {
        let p = PackedEntry::builder(9, "access.allow", 8)
            .actor(&["user:", "ann"])
            .target(&["route:", "docs"])
            .detail(&serde_json::json!({ "method": "GET" }));
        let v = p.view();
        assert_eq!(
            (v.at, v.actor, v.action, v.target, v.before, v.after, v.detail),
            (
                9,
                "user:ann",
                "access.allow",
                "route:docs",
                None,
                None,
                Some("{\"method\":\"GET\"}")
            )
        );
    }
}
