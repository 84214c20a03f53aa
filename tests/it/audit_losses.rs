//! Lost audit records are counted, exported and recorded: an HTTP sink whose spool is
//! full while the SIEM is down discards by `on_spool_full` (`drop_oldest` keeps the
//! newest records, `drop_newest` the oldest), counts every discarded record in
//! `scimgate_audit_sink_dropped_total`, writes `audit.sink_dropped` records on the
//! chain, and then comes to rest (a loss record does not beget further loss records);
//! when the SIEM is back it gets exactly what the spool kept.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use scimgate::audit::sink::SinkStats;
use scimgate::record::AuditRow;

use crate::audit::{chain, detail};
use crate::ops::{scrape, value};
use crate::siem::{self, Siem};
use crate::support::{self, eventually, Gate};

/// SCIM writes made while the SIEM is down: far more than a 4 KiB spool holds.
const WRITES: usize = 30;

fn http_stats(gate: &Gate) -> SinkStats {
    let stats = gate.running.audit.stats();
    stats.sinks.into_iter().find(|s| s.name == "http").unwrap()
}

/// Flushes until a flush appends nothing and leaves nothing queued (the chain is at
/// rest); the head.
async fn settle(gate: &Gate) -> u64 {
    let audit = &gate.running.audit;
    let head = || chain(gate.dir.path()).last().map_or(0, |r| r.seq);
    let mut last = u64::MAX;
    for _ in 0..20 {
        audit.flush().await;
        let now = head();
        if now == last && audit.stats().queue_depth == 0 {
            return now;
        }
        last = now;
    }
    panic!("the chain never comes to rest: it grew to {last} records after {WRITES} SCIM writes");
}

/// The sink's loss records, in chain order.
fn loss_records(rows: &[AuditRow]) -> Vec<&AuditRow> {
    rows.iter()
        .filter(|r| r.entry.action == "audit.sink_dropped")
        .collect()
}

/// A server whose HTTP sink has a 4 KiB spool with `policy`, fed `WRITES` user
/// creations while the SIEM refuses, then left to settle. Returns the SIEM, the gate
/// and the chain's head.
async fn fill_the_spool(policy: &str) -> (std::sync::Arc<Siem>, Gate, u64) {
    let (siem, url) = siem::start(true).await;
    let yaml = format!(
        "audit:\n  tail_interval_ms: 20\n  sinks:\n    http: {{ url: {url:?}, spool_max_bytes: 4096, on_spool_full: {policy}, retry_initial_ms: 20, retry_max_ms: 50 }}\n"
    );
    let gate = support::start(&yaml).await;
    for i in 0..WRITES {
        gate.create_user(&format!("spooled-user-{i:02}")).await;
    }
    let head = settle(&gate).await;
    (siem, gate, head)
}

/// What both policies promise while the SIEM is down: the sink was offered the whole
/// chain, the spool stays within its bound, the counts reach /metrics, and the losses
/// are on the chain with the policy named and a growing total.
async fn check_the_losses(gate: &Gate, head: u64, policy: &str) {
    let http = http_stats(gate);
    assert_eq!(http.cursor, head, "the sink was offered the whole chain");
    assert!(
        http.dropped > 0,
        "a 4 KiB spool cannot hold {WRITES} records"
    );
    assert!(
        http.backlog_bytes > 0 && http.backlog_bytes <= 4096,
        "{http:?}"
    );
    assert_eq!(http.delivered, 0);

    let ops = gate.running.ops_addr.expect("an operations listener");
    let m = scrape(ops).await;
    let sink = [("sink", "http")];
    assert_eq!(
        value(&m, "scimgate_audit_sink_dropped_total", &sink),
        Some(http.dropped as f64)
    );
    assert_eq!(
        value(&m, "scimgate_audit_sink_backlog_bytes", &sink),
        Some(http.backlog_bytes as f64)
    );
    assert_eq!(
        value(&m, "scimgate_audit_sink_delivered_total", &sink),
        Some(0.0)
    );

    let rows = chain(gate.dir.path());
    let losses = loss_records(&rows);
    assert!(!losses.is_empty(), "no audit.sink_dropped record");
    // Far fewer loss records than writes: they are not one per record, and not endless.
    assert!(losses.len() < WRITES, "{} loss records", losses.len());
    let mut total = 0;
    for r in &losses {
        assert_eq!(
            (r.entry.actor.as_str(), r.entry.target.as_str()),
            ("system", "audit:sink:http")
        );
        let d = detail(r);
        assert_eq!(d["policy"], policy);
        let dropped = d["dropped"].as_u64().unwrap();
        assert!(dropped > 0, "{d}");
        let now = d["total"].as_u64().unwrap();
        assert!(now >= total + dropped, "totals accumulate: {d}");
        total = now;
    }
    assert!(
        total <= http.dropped,
        "{total} recorded, {} counted",
        http.dropped
    );
}

/// Lets the SIEM in and waits until the spool is empty; the records it received. Every
/// record of the chain was then either delivered or counted as dropped.
async fn deliver(siem: &Siem, gate: &Gate, head: u64) -> Vec<Value> {
    siem.refusing.store(false, Ordering::SeqCst);
    eventually(Duration::from_secs(10), "the spool drains", || async {
        http_stats(gate).backlog_bytes == 0
    })
    .await;
    let got = siem.records.lock().clone();
    let http = http_stats(gate);
    assert_eq!(http.delivered, got.len() as u64);
    assert_eq!(http.delivered + http.dropped, head, "{http:?}");
    got
}

fn seqs(records: &[Value]) -> Vec<u64> {
    records.iter().map(|r| r["seq"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn drop_oldest_keeps_the_newest_records_and_counts_the_rest() {
    let (siem, gate, head) = fill_the_spool("drop_oldest").await;
    check_the_losses(&gate, head, "drop_oldest").await;
    let got = seqs(&deliver(&siem, &gate, head).await);
    // The newest records, consecutive, up to the head of the chain.
    let first = head + 1 - got.len() as u64;
    assert!(first > 1, "the oldest records were dropped");
    assert_eq!(got, (first..=head).collect::<Vec<u64>>());
}

#[tokio::test]
async fn drop_newest_keeps_the_oldest_records_and_counts_the_rest() {
    let (siem, gate, head) = fill_the_spool("drop_newest").await;
    check_the_losses(&gate, head, "drop_newest").await;
    let got = deliver(&siem, &gate, head).await;
    let delivered = seqs(&got);
    assert!(delivered.windows(2).all(|w| w[0] < w[1]), "{delivered:?}");
    // The first user records, in chain order; later ones were refused. (A loss record
    // may still fit in the room a refused user record left.)
    let creations = |seqs: Vec<u64>| -> Vec<u64> {
        let rows = chain(gate.dir.path());
        seqs.into_iter()
            .filter(|s| rows[*s as usize - 1].entry.action == "user.create")
            .collect()
    };
    let users = creations(delivered.clone());
    let all_users = creations((1..=head).collect());
    assert!(
        !users.is_empty() && users.len() < all_users.len(),
        "{delivered:?}"
    );
    assert_eq!(users, all_users[..users.len()]);
    assert!(
        got.iter()
            .all(|r| r["action"] == "user.create" || r["action"] == "audit.sink_dropped"),
        "{got:?}"
    );
    // With room again, the next record goes through.
    gate.create_user("after-the-outage").await;
    let next = settle(&gate).await;
    eventually(
        Duration::from_secs(10),
        "the next record arrives",
        || async { siem.seqs().last() == Some(&next) },
    )
    .await;
}
