//! Retention checkpoints: how decision records are pruned from the chain while the
//! chain stays verifiable.
//!
//! A pruning pass covers the records after the previous checkpoint's `through_seq`, up
//! to a new `through_seq` P (the last record older than the cutoff, never past what
//! every sink has taken). It deletes the decision records in that range older than
//! the cutoff, keeps everything else, and appends an `audit.checkpoint` record at the
//! head. The checkpoint carries P, the hash of record P (`through_hash`: the record
//! after P must link to it), and `digest`: SHA-256 over the previous checkpoint's
//! digest and `through_seq`, then every surviving record's sequence number and hash in
//! the range, then P. Verification (the audit log's `verify`) checks each surviving record's
//! own hash (edits), recomputes each range's digest (a kept record removed, added or
//! reordered changes it) and links the record after P to `through_hash`; after the
//! last checkpoint the chain is linked record to record as before. Checkpoint records
//! are chained records themselves, so they cannot be edited or removed unnoticed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chain::GENESIS_HASH;
use super::AuditEntry;

/// The action of a checkpoint record.
pub const ACTION: &str = "audit.checkpoint";

/// The actions retention prunes (decisions; everything else is kept).
pub const DECISION_ACTIONS: [&str; 4] = [
    "access.allow",
    "access.deny",
    "access.deny_aggregate",
    "access.allow_aggregate",
];

/// Whether retention prunes records of `action`.
pub fn is_decision(action: &str) -> bool {
    DECISION_ACTIONS.contains(&action)
}

/// What a checkpoint record's detail says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The last sequence number of the range this checkpoint covers.
    pub through_seq: u64,
    /// The hash of record `through_seq` (the record after it links to this).
    pub through_hash: String,
    /// The previous checkpoint's `through_seq` (0 for the first).
    pub prev_through_seq: u64,
    /// See the module documentation.
    pub digest: String,
    /// Records of the range kept.
    pub kept: u64,
    /// Records of the range pruned.
    pub pruned: u64,
    /// Unix milliseconds: decisions older than this were pruned.
    pub cutoff: i64,
}

impl Checkpoint {
    /// Reads a checkpoint record's detail.
    pub fn from_detail(detail: Option<&str>) -> Option<Checkpoint> {
        serde_json::from_str(detail?).ok()
    }
}

/// The running digest of one checkpoint's range.
pub struct RangeDigest(Sha256);

impl RangeDigest {
    /// Starts after the previous checkpoint (`None`: the first).
    pub fn new(prev: Option<(&str, u64)>) -> Self {
        let (digest, through) = prev.unwrap_or((GENESIS_HASH, 0));
        let mut h = Sha256::new();
        h.update(b"scimgate-audit-checkpoint-v1");
        h.update(digest.as_bytes());
        h.update(through.to_be_bytes());
        RangeDigest(h)
    }

    /// Adds one surviving record.
    pub fn add(&mut self, seq: u64, hash: &str) {
        self.0.update(seq.to_be_bytes());
        self.0.update(hash.as_bytes());
    }

    /// The digest of a range ending at `through`.
    pub fn finish(mut self, through: u64) -> String {
        self.0.update(through.to_be_bytes());
        hex::encode(self.0.finalize())
    }
}

/// What one pruning pass is asked to do.
#[derive(Debug, Clone)]
pub struct PruneRequest {
    /// Unix milliseconds: the checkpoint record's time.
    pub at: i64,
    /// Unix milliseconds: decisions older than this go.
    pub cutoff: i64,
    /// Records examined per pass.
    pub max_rows: usize,
    /// Never prune past this sequence number (what every sink has taken).
    pub not_after_seq: u64,
}

/// A record as the pruner reads it.
#[derive(Debug, Clone)]
pub struct PruneRow {
    pub seq: u64,
    pub at: i64,
    pub action: String,
    pub hash: String,
}

/// One pass, planned: what to delete and the checkpoint record to append.
#[derive(Debug, Clone)]
pub struct PrunePlan {
    pub delete: Vec<u64>,
    pub checkpoint: Checkpoint,
    pub entry: AuditEntry,
}

/// What a pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneOutcome {
    pub through_seq: u64,
    pub pruned: u64,
    pub kept: u64,
}

/// Plans a pass over `rows` (the records after the previous checkpoint, in order, at
/// most `max_rows`); `None` when there is nothing to do now.
pub fn plan(prev: Option<&Checkpoint>, rows: &[PruneRow], req: &PruneRequest) -> Option<PrunePlan> {
    let eligible = rows.partition_point(|r| r.seq <= req.not_after_seq);
    let last = rows[..eligible].iter().rposition(|r| r.at < req.cutoff)?;
    let range = &rows[..=last];
    let doomed = |r: &PruneRow| is_decision(&r.action) && r.at < req.cutoff;
    let delete: Vec<u64> = range.iter().filter(|r| doomed(r)).map(|r| r.seq).collect();
    if delete.is_empty() && rows.len() < req.max_rows {
        // Nothing to prune, and the range need not move on to reach more.
        return None;
    }
    let mut digest = RangeDigest::new(prev.map(|p| (p.digest.as_str(), p.through_seq)));
    for r in range.iter().filter(|r| !doomed(r)) {
        digest.add(r.seq, &r.hash);
    }
    let through = &range[last];
    let checkpoint = Checkpoint {
        through_seq: through.seq,
        through_hash: through.hash.clone(),
        prev_through_seq: prev.map_or(0, |p| p.through_seq),
        digest: digest.finish(through.seq),
        kept: (range.len() - delete.len()) as u64,
        pruned: delete.len() as u64,
        cutoff: req.cutoff,
    };
    let entry = AuditEntry {
        at: req.at,
        actor: "system".into(),
        action: ACTION.into(),
        target: "audit:chain".into(),
        before: None,
        after: None,
        detail: serde_json::to_string(&checkpoint).ok(),
    };
    Some(PrunePlan {
        delete,
        checkpoint,
        entry,
    })
}
