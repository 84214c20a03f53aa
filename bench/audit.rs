//! Audit pipeline figures, in-process on a temporary SQLite store:
//!
//! ```text
//! cargo bench --bench audit
//! ```
//!
//! `record`: what a request pays to record a decision (build the record, queue it), per
//! call, with the worker writing meanwhile. `drain`: records per second from the first
//! record to everything stored, in batches, with no sink, then with a JSON-lines file
//! sink (the tailer reads the chain back and writes the file). Figures are printed as
//! `audit <metric> <value> <unit>` and appended, with the date, to
//! `bench/out/results.txt`; nothing is hard-coded.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use scimgate::audit::records::{self, DecisionRecord, RequestOrigin};
use scimgate::config::audit::{AuditConfig, FileSinkConfig};
use scimgate::store::{SqliteStore, Store};

const RECORDS: usize = 100_000;

fn report(out: &PathBuf, text: &str) -> anyhow::Result<()> {
    println!("{text}");
    std::fs::create_dir_all(out)?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out.join("results.txt"))?;
    let stamp = scimgate::clock::rfc3339_millis(scimgate::clock::to_millis(
        time::OffsetDateTime::now_utc(),
    ));
    writeln!(f, "{stamp} {text}")?;
    Ok(())
}

async fn run(out: &PathBuf, with_file: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("scimgate.db"))?);
    let config = AuditConfig {
        queue_capacity: RECORDS,
        file: with_file.then(|| FileSinkConfig {
            path: dir.path().join("audit.jsonl"),
            max_bytes: 1 << 30,
            keep: 1,
        }),
        ..AuditConfig::default()
    };
    let (auditor, service) = scimgate::audit::start(
        store.clone(),
        &config,
        dir.path(),
        scimgate::clock::system(),
    )?;
    let origin = RequestOrigin {
        request_id: Some("3f1c0f6e-8d0a-4f7e-9f59-5d1f2b8f5a11".into()),
        client_ip: Some("10.1.2.3".parse()?),
    };
    let started = Instant::now();
    let mut spent = std::time::Duration::ZERO;
    for i in 0..RECORDS {
        let t = Instant::now();
        auditor.record(records::decision(&DecisionRecord {
            at: auditor.now_ms(),
            allow: i % 7 != 0,
            user_name: "analyst-0042@example.com",
            user_id: "2c6f8a8e-6a55-4f5c-9d0b-2f1d7c0e9b11",
            route: "finance-docs",
            method: "GET",
            path: "/finance/manifest.json",
            rule: "analysts-read",
            rule_location: "policies/finance.yaml:12",
            directory_seq: 1234,
            origin: &origin,
        }));
        spent += t.elapsed();
        if i % 1000 == 999 {
            tokio::task::yield_now().await;
        }
    }
    auditor.flush().await;
    let elapsed = started.elapsed();
    let stats = auditor.stats();
    service.shutdown().await;
    anyhow::ensure!(
        stats.overflowed == 0,
        "overflow in the benchmark: {stats:?}"
    );
    let sink = if with_file { "file-sink" } else { "no-sink" };
    if !with_file {
        report(
            out,
            &format!(
                "audit record {:.0} ns/call",
                spent.as_nanos() as f64 / RECORDS as f64
            ),
        )?;
    }
    report(
        out,
        &format!(
            "audit drain-{sink} {:.0} records/s ({RECORDS} records in {:.2} s)",
            RECORDS as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        ),
    )?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/out");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        run(&out, false).await?;
        run(&out, true).await
    })
}
