//! Checking the chain: every record's hash must match its fields and the previous
//! record's hash, and sequence numbers must follow one another.
//!
//! The first bad record is named with why: its own hash does not match its fields
//! (edited), a gap in the sequence numbers (removed), its `prev_hash` is the hash of
//! the record after it (swapped, out of order), or its `prev_hash` is not the hash of
//! the record before (removed or replaced and re-hashed). Removing the newest records
//! leaves a shorter valid chain; compare the printed head with one kept elsewhere.
//!
//! Where retention pruned decisions, `audit.checkpoint` records cover the pruned ranges
//! ([`crate::record::checkpoint`]): inside them each kept record's own hash is checked and the
//! range's digest recomputed (a kept record removed, added or reordered breaks it);
//! the first record after the last range must link to its `through_hash`.

use crate::record::chain::{record_hash, GENESIS_HASH};
use crate::record::checkpoint::{self, Checkpoint, RangeDigest};
use crate::record::{AuditQuery, AuditRow};
use crate::store::{Store, StoreError};

/// Rows read per query.
const PAGE: usize = 10_000;

/// An intact chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intact {
    pub records: u64,
    pub last_seq: u64,
    /// The hash of the newest record (GENESIS for an empty chain).
    pub head: String,
    /// Retention checkpoints, and the last sequence number they cover (0: none).
    pub checkpoints: u64,
    pub pruned_through: u64,
}

/// Why the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("record {seq}: hash mismatch: its fields were edited after it was written")]
    Edited { seq: u64 },
    #[error("record {seq}: gap in sequence after record {after}: records {after_plus_one} to {before} were removed", after_plus_one = after + 1, before = seq - 1)]
    Gap { seq: u64, after: u64 },
    #[error("record {seq}: out of order: it was swapped with record {with}")]
    Swapped { seq: u64, with: u64 },
    #[error("record {seq}: prev_hash does not match the hash of record {prev}: a record before it was removed, or replaced and re-hashed")]
    PrevMismatch { seq: u64, prev: u64 },
    #[error(
        "record {seq}: the first record must follow the genesis hash: earlier records were removed"
    )]
    NotGenesis { seq: u64 },
    #[error("record {seq}: checkpoint does not follow the checkpoint before it (checkpoints were removed or forged)")]
    Checkpoint { seq: u64 },
    #[error("record {seq}: the kept records up to seq {through} do not match this checkpoint: records in the pruned range were removed, added or reordered")]
    Pruned { seq: u64, through: u64 },
    #[error("record {seq}: does not follow the pruned range of checkpoint {checkpoint}: records after it were removed or replaced")]
    AfterCheckpoint { seq: u64, checkpoint: u64 },
}

impl Broken {
    /// The sequence number of the first bad record.
    pub fn seq(&self) -> u64 {
        match self {
            Broken::Edited { seq }
            | Broken::Gap { seq, .. }
            | Broken::Swapped { seq, .. }
            | Broken::PrevMismatch { seq, .. }
            | Broken::NotGenesis { seq }
            | Broken::Checkpoint { seq }
            | Broken::Pruned { seq, .. }
            | Broken::AfterCheckpoint { seq, .. } => *seq,
        }
    }
}

/// Verifies the rows of a chain given in stored order (a chain never pruned).
pub fn check(rows: impl IntoIterator<Item = AuditRow>) -> Result<Intact, Broken> {
    check_with(rows, &[])
}

/// Checks that the checkpoints (seq, what it says), in chain order, follow one another.
fn check_checkpoints(checkpoints: &[(u64, Checkpoint)]) -> Result<(), Broken> {
    let mut through = 0;
    for (seq, c) in checkpoints {
        if c.prev_through_seq != through || c.through_seq <= through || *seq <= c.through_seq {
            return Err(Broken::Checkpoint { seq: *seq });
        }
        through = c.through_seq;
    }
    Ok(())
}

/// Verifies the rows of a chain given in stored order, with the retention
/// checkpoints found in it (seq, what it says), in order.
pub fn check_with(
    rows: impl IntoIterator<Item = AuditRow>,
    checkpoints: &[(u64, Checkpoint)],
) -> Result<Intact, Broken> {
    check_checkpoints(checkpoints)?;
    let mut rows = rows.into_iter().peekable();
    // The checkpoint whose range is being read, and that range's running digest.
    let mut range = 0;
    let mut digest = RangeDigest::new(None);
    let close = |range: usize, digest: RangeDigest| -> Result<RangeDigest, Broken> {
        let (seq, c) = &checkpoints[range];
        if digest.finish(c.through_seq) != c.digest {
            return Err(Broken::Pruned {
                seq: *seq,
                through: c.through_seq,
            });
        }
        Ok(RangeDigest::new(Some((&c.digest, c.through_seq))))
    };
    let mut prev: Option<(u64, String)> = None;
    let mut count = 0u64;
    while let Some(row) = rows.next() {
        if record_hash(&row.prev_hash, &row.entry) != row.hash {
            return Err(Broken::Edited { seq: row.seq });
        }
        while range < checkpoints.len() && row.seq > checkpoints[range].1.through_seq {
            digest = close(range, digest)?;
            range += 1;
        }
        if range < checkpoints.len() {
            // Inside a pruned range: the digest answers for what is kept.
            digest.add(row.seq, &row.hash);
            count += 1;
            continue;
        }
        if prev.is_none() {
            if let Some((cp_seq, c)) = checkpoints.last() {
                if row.prev_hash != c.through_hash || row.seq != c.through_seq + 1 {
                    return Err(Broken::AfterCheckpoint {
                        seq: row.seq,
                        checkpoint: *cp_seq,
                    });
                }
                count += 1;
                prev = Some((row.seq, row.hash));
                continue;
            }
        }
        let expected = prev.as_ref().map_or(GENESIS_HASH, |(_, h)| h.as_str());
        if row.prev_hash != expected {
            if let Some(next) = rows.peek() {
                if next.hash == row.prev_hash {
                    return Err(Broken::Swapped {
                        seq: row.seq,
                        with: next.seq,
                    });
                }
            }
            return Err(match &prev {
                None => Broken::NotGenesis { seq: row.seq },
                Some((p, _)) if row.seq > p + 1 => Broken::Gap {
                    seq: row.seq,
                    after: *p,
                },
                Some((p, _)) => Broken::PrevMismatch {
                    seq: row.seq,
                    prev: *p,
                },
            });
        }
        if let Some((p, _)) = &prev {
            if row.seq > p + 1 {
                // Linked, yet numbers are missing: rows were renumbered by hand.
                return Err(Broken::Gap {
                    seq: row.seq,
                    after: *p,
                });
            }
        }
        count += 1;
        prev = Some((row.seq, row.hash));
    }
    while range < checkpoints.len() {
        digest = close(range, digest)?;
        range += 1;
    }
    let pruned_through = checkpoints.last().map_or(0, |(_, c)| c.through_seq);
    let (last_seq, head) = prev.unwrap_or((pruned_through, GENESIS_HASH.to_owned()));
    Ok(Intact {
        records: count,
        last_seq,
        head,
        checkpoints: checkpoints.len() as u64,
        pruned_through,
    })
}

/// The retention checkpoints in `store`, in chain order; a checkpoint record that
/// does not say what a checkpoint says is named (edited when its hash disagrees).
fn checkpoints(store: &dyn Store) -> Result<Result<Vec<(u64, Checkpoint)>, Broken>, StoreError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let rows = store.audit_query(&AuditQuery {
            after_seq: after,
            action_prefix: Some(checkpoint::ACTION.to_owned()),
            limit: PAGE,
            ..AuditQuery::default()
        })?;
        let done = rows.len() < PAGE;
        after = rows.last().map(|r| r.seq).or(after);
        for r in rows.iter().filter(|r| r.entry.action == checkpoint::ACTION) {
            match Checkpoint::from_detail(r.entry.detail.as_deref()) {
                Some(c) => out.push((r.seq, c)),
                None if record_hash(&r.prev_hash, &r.entry) != r.hash => {
                    return Ok(Err(Broken::Edited { seq: r.seq }))
                }
                None => return Ok(Err(Broken::Checkpoint { seq: r.seq })),
            }
        }
        if done {
            return Ok(Ok(out));
        }
    }
}

/// Reads the whole chain from `store` page by page (never all of it in memory) and
/// verifies it.
pub fn verify_store(store: &dyn Store) -> Result<Result<Intact, Broken>, StoreError> {
    let found = match checkpoints(store)? {
        Ok(found) => found,
        Err(broken) => return Ok(Err(broken)),
    };
    let mut failure = None;
    let mut page = std::collections::VecDeque::new();
    let mut after = None;
    let mut done = false;
    let rows = std::iter::from_fn(|| {
        if page.is_empty() && !done {
            match store.audit_query(&AuditQuery {
                after_seq: after,
                limit: PAGE,
                ..AuditQuery::default()
            }) {
                Ok(rows) => {
                    done = rows.len() < PAGE;
                    after = rows.last().map(|r| r.seq).or(after);
                    page.extend(rows);
                }
                Err(e) => {
                    failure = Some(e);
                    done = true;
                }
            }
        }
        page.pop_front()
    });
    let verdict = check_with(rows, &found);
    match failure {
        Some(e) => Err(e),
        None => Ok(verdict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AuditEntry;

    fn chain(n: u64) -> Vec<AuditRow> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let entry = AuditEntry {
                    at: seq as i64,
                    actor: "system".into(),
                    action: "test".into(),
                    target: format!("t{seq}"),
                    before: None,
                    after: None,
                    detail: None,
                };
                let hash = record_hash(&prev, &entry);
                AuditRow {
                    seq,
                    entry,
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                }
            })
            .collect()
    }

    #[test]
    fn intact_chain_passes() {
        let ok = check(chain(5)).unwrap();
        assert_eq!((ok.records, ok.last_seq), (5, 5));
        assert_eq!(check(Vec::new()).unwrap().head, GENESIS_HASH);
    }

    #[test]
    fn edit_removal_and_swap_are_named() {
        let mut c = chain(5);
        c[2].entry.target = "changed".into();
        assert_eq!(check(c).unwrap_err(), Broken::Edited { seq: 3 });

        let mut c = chain(5);
        c.remove(2);
        assert_eq!(check(c).unwrap_err(), Broken::Gap { seq: 4, after: 2 });

        let mut c = chain(5);
        c.remove(0);
        assert_eq!(check(c).unwrap_err(), Broken::NotGenesis { seq: 2 });

        // Swapped contents, sequence numbers kept in place.
        let mut c = chain(5);
        let (a, b) = (c[1].clone(), c[2].clone());
        c[1] = AuditRow { seq: 2, ..b };
        c[2] = AuditRow { seq: 3, ..a };
        assert_eq!(check(c).unwrap_err(), Broken::Swapped { seq: 2, with: 3 });
    }
}
