//! The pruner: applies `audit.retention` every `interval`. Each pass prunes one range
//! of decision records older than `decisions_max_age` behind a checkpoint
//! ([`crate::record::checkpoint`]), in its own store transaction of at most `rows_per_pass`
//! records, so commits and appends wait for one pass at most; passes repeat until the
//! old records are gone. Never past what every sink has taken (a sink's cursor), so no
//! record is pruned before it was shipped.

use tokio_util::sync::CancellationToken;

use crate::config::audit::RetentionConfig;
use crate::record::checkpoint::{PruneOutcome, PruneRequest};
use crate::store::{Store, StoreError};

/// What a run of passes did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneTotals {
    /// Checkpoints written (one per pass that pruned).
    pub passes: u64,
    pub pruned: u64,
    /// The last sequence number covered by a checkpoint (0: none written).
    pub through_seq: u64,
}

/// At most this many passes per run (the next run continues).
const MAX_PASSES: u64 = 10_000;

/// Runs passes until nothing is left to prune under `config` at `now_ms`. Blocks.
pub fn prune(
    store: &dyn Store,
    config: &RetentionConfig,
    now_ms: i64,
    not_after_seq: u64,
) -> Result<PruneTotals, StoreError> {
    let mut totals = PruneTotals::default();
    let Some(age) = config.decisions_max_age else {
        return Ok(totals);
    };
    let req = PruneRequest {
        at: now_ms,
        cutoff: now_ms.saturating_sub(i64::try_from(age.as_millis()).unwrap_or(i64::MAX)),
        max_rows: config.rows_per_pass,
        not_after_seq,
    };
    while totals.passes < MAX_PASSES {
        let Some(PruneOutcome {
            through_seq,
            pruned,
            ..
        }) = store.audit_prune(&req)?
        else {
            break;
        };
        totals.passes += 1;
        totals.pruned += pruned;
        totals.through_seq = through_seq;
    }
    Ok(totals)
}

/// Runs [`super::Auditor::prune_now`] at start and every `interval` until `stop`.
pub(crate) async fn run(
    auditor: super::Auditor,
    interval: std::time::Duration,
    stop: CancellationToken,
) {
    loop {
        match auditor.prune_now().await {
            Ok(t) if t.pruned > 0 => {
                tracing::info!(
                    pruned = t.pruned,
                    through_seq = t.through_seq,
                    "audit retention pruned decisions"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "audit retention pass failed"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
