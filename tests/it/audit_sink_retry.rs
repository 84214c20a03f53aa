//! The file, stdout and syslog sinks retry from the chain: a write that fails leaves
//! the sink's cursor where it was, the failure is counted, and once the destination
//! takes writes again every record arrives, in order, none skipped and none twice.
//!
//! The failures are real ones: the file sink's path leads to `/dev/full` (every write
//! fails with ENOSPC, as on a full disk) until the test removes that link; the real
//! binary's stdout is `/dev/full`; the syslog receiver's port refuses connections, or
//! the receiver closes its connection, before it listens again.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;

use scimgate::audit::sink::SinkStats;

use crate::audit::chain;
use crate::binary;
use crate::ops::{scrape, value};
use crate::support::{self, eventually, Gate};
use crate::syslog_tcp::{parse_frame, tcp_sink, Frames};

fn sink_stats(gate: &Gate, name: &str) -> SinkStats {
    let stats = gate.running.audit.stats();
    stats.sinks.into_iter().find(|s| s.name == name).unwrap()
}

/// Waits until the sink `name` has failed again after this call: a pass that saw every
/// record committed so far has failed.
async fn another_failure(gate: &Gate, name: &str) {
    let before = sink_stats(gate, name).errors;
    eventually(Duration::from_secs(10), "the sink fails again", || async {
        sink_stats(gate, name).errors > before
    })
    .await;
}

/// The records of a JSON-lines text.
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON record"))
        .collect()
}

/// Asserts that `got` is exactly the chain's records `from..`, in order.
#[track_caller]
fn assert_records_from(data: &Path, from: u64, got: &[Value]) {
    let rows: Vec<_> = chain(data).into_iter().filter(|r| r.seq >= from).collect();
    let seqs: Vec<u64> = got.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    let want: Vec<u64> = rows.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, want, "every record once, in order");
    for (row, sent) in rows.iter().zip(got) {
        assert_eq!(sent["hash"], row.hash.as_str());
    }
}

#[tokio::test]
async fn the_file_sink_retries_after_a_full_disk() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::os::unix::fs::symlink("/dev/full", &log).unwrap();
    let yaml = format!(
        "audit: {{ tail_interval_ms: 20, sinks: {{ file: {{ path: {:?} }} }} }}\n",
        log.display().to_string()
    );
    let gate = support::start(&yaml).await;
    for i in 0..3 {
        gate.create_user(&format!("full-disk-{i}")).await;
    }
    another_failure(&gate, "file").await;
    let file = sink_stats(&gate, "file");
    assert_eq!((file.delivered, file.cursor), (0, 0), "{file:?}");
    let m = scrape(gate.running.ops_addr.unwrap()).await;
    let errors = value(&m, "scimgate_audit_sink_errors_total", &[("sink", "file")]).unwrap();
    assert!(errors >= 1.0, "{errors}");
    assert_eq!(
        value(
            &m,
            "scimgate_audit_sink_delivered_total",
            &[("sink", "file")]
        ),
        Some(0.0)
    );

    // Room again: the path is an ordinary file from now on.
    std::fs::remove_file(&log).unwrap();
    eventually(
        Duration::from_secs(10),
        "the file sink catches up",
        || async { sink_stats(&gate, "file").cursor == 3 },
    )
    .await;
    gate.create_user("after-the-disk-filled").await;
    gate.running.audit.flush().await;
    let written = json_lines(&std::fs::read_to_string(&log).unwrap());
    assert_eq!(written.len(), 4);
    assert_records_from(gate.dir.path(), 1, &written);
    assert_eq!(sink_stats(&gate, "file").delivered, 4);
}

#[tokio::test]
async fn the_syslog_sink_retries_until_the_receiver_listens() {
    // A port nobody listens on: connections are refused.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gate = support::start(&tcp_sink(address)).await;
    gate.create_user("refused-1").await;
    gate.create_user("refused-2").await;
    another_failure(&gate, "syslog").await;
    let syslog = sink_stats(&gate, "syslog");
    assert_eq!((syslog.delivered, syslog.cursor), (0, 0), "{syslog:?}");

    let listener = TcpListener::bind(address).await.unwrap();
    let mut frames = Frames::accept(&listener).await;
    let mut got = vec![
        parse_frame(&frames.next().await, 157).1,
        parse_frame(&frames.next().await, 157).1,
    ];
    // Later records follow on the same connection.
    gate.create_user("listening-3").await;
    got.push(parse_frame(&frames.next().await, 157).1);
    assert_records_from(gate.dir.path(), 1, &got);
}

#[tokio::test]
async fn the_syslog_sink_resends_what_a_closed_connection_did_not_take() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gate = support::start(&tcp_sink(listener.local_addr().unwrap())).await;
    gate.create_user("before-1").await;
    let mut frames = Frames::accept(&listener).await;
    let mut got = vec![parse_frame(&frames.next().await, 157).1];
    // The receiver restarts: its end of the connection is closed.
    drop(frames);
    gate.create_user("while-closed-2").await;
    gate.running.audit.flush().await;
    gate.create_user("while-closed-3").await;
    gate.running.audit.flush().await;
    let mut frames = Frames::accept(&listener).await;
    got.push(parse_frame(&frames.next().await, 157).1);
    got.push(parse_frame(&frames.next().await, 157).1);
    assert_records_from(gate.dir.path(), 1, &got);
}

#[tokio::test]
async fn stdout_records_not_printed_before_a_restart_are_printed_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let token = binary::token(data, "idp", "scim");
    let config = binary::config(
        data,
        "audit:\n  tail_interval_ms: 20\n  sinks:\n    stdout: true\n",
    );
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut first = binary::spawn_with_stdout(data, "first", &config, Stdio::from(full));
    let base = first.base().await;
    // The token's record is the chain's head at the first start: stdout begins after it.
    for i in 0..3 {
        binary::create_user(&base, &token, &format!("printed-{i}")).await;
    }
    let failures = || {
        first
            .events_at("ERROR", "audit sink write failed; will retry")
            .len()
    };
    let seen = failures();
    eventually(Duration::from_secs(10), "stdout fails again", || {
        let n = failures();
        async move { n > seen }
    })
    .await;
    let failed = first.events_at("ERROR", "audit sink write failed; will retry");
    let error = failed[0]["fields"]["error"].as_str().unwrap();
    assert!(
        error.contains("stdout") && error.contains("No space left on device"),
        "{error}"
    );
    let cursor = data.join("audit").join("stdout.cursor");
    assert_eq!(
        std::fs::read_to_string(&cursor).unwrap().trim(),
        "1",
        "the cursor stays where stdout began"
    );
    drop(first); // SIGKILL

    let printed = data.join("stdout.jsonl");
    let file = std::fs::File::create(&printed).unwrap();
    let mut second = binary::spawn_with_stdout(data, "second", &config, Stdio::from(file));
    second.base().await;
    eventually(Duration::from_secs(10), "the records are printed", || {
        let n = std::fs::read_to_string(&printed)
            .unwrap_or_default()
            .lines()
            .count();
        async move { n >= 3 }
    })
    .await;
    let got = json_lines(&std::fs::read_to_string(&printed).unwrap());
    assert_records_from(data, 2, &got);
    assert!(got.iter().all(|r| r["action"] == "user.create"), "{got:?}");
}
