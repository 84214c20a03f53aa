//! "After a crash at most the last batch is sent twice": the real binary ships its
//! chain to a SIEM that takes one batch and never answers; the process is killed with
//! SIGKILL while that batch waits for its acknowledgement, and restarted on the same
//! data directory. The SIEM then receives every record, and the only records it gets
//! twice are those of the batch that was in flight.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::audit::chain;
use crate::binary;
use crate::ops::{scrape, value};
use crate::siem;
use crate::support::eventually;

const USERS: usize = 40;
const BATCH_MAX: usize = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_delivery_repeats_only_the_batch_in_flight() {
    let (siem, url) = siem::start(false).await;
    siem.holding.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let token = binary::token(data, "idp", "scim");
    let config = binary::config(
        data,
        &format!(
            "audit:\n  tail_interval_ms: 20\n  sinks:\n    http: {{ url: {url:?}, batch_max: {BATCH_MAX}, retry_initial_ms: 20, retry_max_ms: 50, timeout_ms: 600000 }}\n"
        ),
    );
    let mut first = binary::spawn(data, "first", &config);
    let base = first.base().await;
    for i in 0..USERS {
        binary::create_user(&base, &token, &format!("shipped-{i:02}")).await;
    }
    eventually(
        Duration::from_secs(10),
        "the SIEM holds a batch",
        || async { siem.held.load(Ordering::SeqCst) == 1 },
    )
    .await;
    // Every record is spooled (the sink's cursor is at the head of the chain) and one
    // batch is in flight, unacknowledged.
    let head = chain(data).last().unwrap().seq;
    assert_eq!(
        head,
        USERS as u64 + 1,
        "the token's record, then the users'"
    );
    let cursor = data.join("audit").join("http.cursor");
    eventually(Duration::from_secs(10), "everything is spooled", || {
        let at = std::fs::read_to_string(&cursor).unwrap_or_default();
        async move { at.trim() == head.to_string() }
    })
    .await;
    let in_flight = siem.seqs();
    assert!(
        !in_flight.is_empty() && in_flight.len() <= BATCH_MAX,
        "{in_flight:?}"
    );
    assert_eq!(
        in_flight,
        (1..=in_flight.len() as u64).collect::<Vec<u64>>()
    );
    drop(first); // SIGKILL

    siem.holding.store(false, Ordering::SeqCst);
    let mut second = binary::spawn(data, "second", &config);
    second.base().await;
    let ops = second
        .wait_for("operations listener (metrics, health) listening")
        .await;
    let ops: std::net::SocketAddr = ops["addr"].as_str().unwrap().parse().unwrap();
    eventually(
        Duration::from_secs(20),
        "the spool is delivered",
        || async {
            let m = scrape(ops).await;
            let sink = [("sink", "http")];
            value(&m, "scimgate_audit_sink_backlog_bytes", &sink) == Some(0.0)
                && value(&m, "scimgate_audit_sink_delivered_total", &sink) == Some(head as f64)
        },
    )
    .await;
    assert_eq!(
        chain(data).last().unwrap().seq,
        head,
        "nothing new was written"
    );
    let mut want = in_flight.clone();
    want.extend(1..=head);
    assert_eq!(
        siem.seqs(),
        want,
        "the batch in flight twice, everything else once, in order"
    );
}
