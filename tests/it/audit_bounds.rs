//! The audit log's bounds through the real server: a flood of anonymous refusals with
//! long paths costs bounded space and is counted in aggregate records, while every
//! decision on a signed-in user is still recorded; retention prunes old decisions
//! behind a checkpoint that the real `scimgate audit verify` accepts (and still names
//! an edit after it, or a kept record removed before it); the SQLite WAL is truncated
//! under sustained audit writes.

use std::path::Path;
use std::process::Command;

use futures_util::future::join_all;
use serde_json::Value;

use scimgate::record::{AuditEntry, AuditQuery, AuditRow};
use scimgate::store::{SqliteStore, Store};

use crate::proxy_env::{reader, Env};

fn chain(data: &Path) -> Vec<AuditRow> {
    let store = SqliteStore::open(&data.join("scimgate.db")).unwrap();
    store.audit_query(&AuditQuery::default()).unwrap()
}

fn detail(row: &AuditRow) -> Value {
    serde_json::from_str(row.entry.detail.as_deref().unwrap_or("null")).unwrap()
}

/// The database and its WAL, in bytes.
fn db_bytes(data: &Path) -> u64 {
    ["scimgate.db", "scimgate.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(data.join(f)).map_or(0, |m| m.len()))
        .sum()
}

/// Sends `n` anonymous requests to `host` with `path_len`-byte paths, `par` at a time;
/// every answer must be `status`.
async fn anonymous_flood(env: &Env, host: &str, n: usize, path_len: usize, status: u16) {
    let path = format!("/{}", "a".repeat(path_len - 1));
    for chunk in (0..n).collect::<Vec<_>>().chunks(32) {
        let sent = chunk
            .iter()
            .map(|_| async { env.get(host, &path, None).send().await.unwrap().status() });
        for s in join_all(sent).await {
            assert_eq!(s.as_u16(), status);
        }
    }
}

/// `user` asks for a path the policy denies `n` times; the request ids sent.
async fn denied_requests(env: &Env, user: &str, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("{user}-denied-{i}")).collect();
    let sent = ids.iter().map(|id| async move {
        env.get("app.test", "/private/x", Some(user))
            .header("x-request-id", id.as_str())
            .send()
            .await
            .unwrap()
            .status()
    });
    for s in join_all(sent).await {
        assert_eq!(s.as_u16(), 403);
    }
    ids
}

/// The request ids of `user`'s recorded denials.
fn recorded_denials(rows: &[AuditRow], user: &str) -> Vec<String> {
    let mut ids: Vec<String> = rows
        .iter()
        .filter(|r| r.entry.action == "access.deny" && r.entry.actor == format!("user:{user}"))
        .filter_map(|r| detail(r)["request_id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

/// The aggregate records of (target, reason) and the refusals they count.
fn aggregated(rows: &[AuditRow], target: &str, reason: &str) -> (usize, u64) {
    let found: Vec<Value> = rows
        .iter()
        .filter(|r| r.entry.action == "access.deny_aggregate" && r.entry.target == target)
        .map(detail)
        .filter(|d| d["reason"] == reason)
        .collect();
    let count = found.iter().map(|d| d["count"].as_u64().unwrap()).sum();
    (found.len(), count)
}

#[tokio::test]
async fn an_anonymous_flood_with_long_paths_costs_bounded_space_and_is_counted() {
    let env = Env::start(
        "audit: { anonymous: { window_ms: 3600000, individual_per_key: 5, samples_per_key: 3 } }\n",
    )
    .await;
    reader(&env, "kim").await;
    let audit = env.gate.running.audit.clone();
    audit.flush().await;
    let data = env.gate.dir.path();
    let before = db_bytes(data);

    const FLOOD: usize = 600;
    const PATH: usize = 6000;
    let (_, _, kim_ids) = tokio::join!(
        anonymous_flood(&env, "nowhere.test", FLOOD, PATH, 404),
        anonymous_flood(&env, "app.test", FLOOD, PATH, 401),
        denied_requests(&env, "kim", 40),
    );
    audit.flush().await;

    let grown = db_bytes(data).saturating_sub(before);
    // Recorded whole, the flood alone is 2 × 600 × 6 KB = 7.2 MB.
    assert!(grown < 1024 * 1024, "the database grew by {grown} bytes");
    let rows = chain(data);

    // Each key: 5 records of their own (path clipped, its length and hash kept) ...
    for (target, reason) in [("route:-", "no_route"), ("route:app", "unauthenticated")] {
        let single: Vec<Value> = rows
            .iter()
            .filter(|r| r.entry.action == "access.deny" && r.entry.target == target)
            .map(detail)
            .filter(|d| d["reason"] == reason)
            .collect();
        assert_eq!(single.len(), 5, "{target} {reason}");
        for d in &single {
            assert_eq!(d["path"].as_str().unwrap().len(), 512);
            assert_eq!(d["path_bytes"], PATH);
            assert_eq!(d["path_sha256"].as_str().unwrap().len(), 64);
        }
        // ... and the rest counted in one aggregate, with three clipped samples.
        assert_eq!(
            aggregated(&rows, target, reason),
            (1, FLOOD as u64 - 5),
            "{target} {reason}"
        );
        let agg = rows
            .iter()
            .find(|r| r.entry.action == "access.deny_aggregate" && r.entry.target == target)
            .unwrap();
        let samples = detail(agg)["samples"].as_array().unwrap().clone();
        assert_eq!(samples.len(), 3);
        assert!(samples
            .iter()
            .all(|s| s["path"].as_str().unwrap().len() == 512 && s["path_bytes"] == PATH));
    }
    // Every decision on the signed-in user is on record.
    let mut want = kim_ids;
    want.sort();
    assert_eq!(recorded_denials(&rows, "kim"), want);
    let stats = audit.stats();
    assert_eq!(stats.aggregated, 2 * (FLOOD as u64 - 5));
    assert_eq!(stats.overflowed, 0);

    // The same counts reach /metrics.
    let ops = env.gate.running.ops_addr.expect("an operations listener");
    let scrape = crate::ops::scrape(ops).await;
    let metric = |name: &str| crate::ops::value(&scrape, name, &[]);
    assert_eq!(
        metric("scimgate_audit_aggregated_total"),
        Some(stats.aggregated as f64)
    );
    assert_eq!(metric("scimgate_audit_overflow_total"), Some(0.0));
    assert_eq!(metric("scimgate_audit_append_errors_total"), Some(0.0));
    // The worker appends the decisions (directory changes go in with their SCIM writes).
    let decisions = rows
        .iter()
        .filter(|r| r.entry.action.starts_with("access."))
        .count();
    assert!(
        metric("scimgate_audit_appended_total").is_some_and(|n| n >= decisions as f64),
        "{decisions} decision records"
    );
    assert_eq!(metric("scimgate_audit_anonymous_queue_depth"), Some(0.0));
}

#[tokio::test]
async fn a_signed_in_users_decisions_are_all_recorded_while_a_flood_fills_the_queue() {
    let env =
        Env::start("audit: { queue_capacity: 64, anonymous: { window_ms: 3600000 } }\n").await;
    reader(&env, "kim").await;
    let audit = env.gate.running.audit.clone();
    audit.flush().await;
    // Another writer holds the database: nothing is written until it lets go, so
    // whatever is recorded must wait in the queues.
    let db = rusqlite::Connection::open(env.gate.dir.path().join("scimgate.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    anonymous_flood(&env, "nowhere.test", 300, 64, 404).await;
    let kim_ids = denied_requests(&env, "kim", 40).await;
    db.execute_batch("ROLLBACK").unwrap();
    audit.flush().await;

    let rows = chain(env.gate.dir.path());
    let mut want = kim_ids;
    want.sort();
    assert_eq!(
        recorded_denials(&rows, "kim"),
        want,
        "every one of kim's decisions"
    );
    // The flood: 10 on their own, the rest counted; nothing lost.
    let single = rows
        .iter()
        .filter(|r| r.entry.action == "access.deny" && r.entry.actor == "anonymous")
        .count();
    assert_eq!(single, 10);
    assert_eq!(aggregated(&rows, "route:-", "no_route"), (1, 290));
    assert_eq!(audit.stats().overflowed, 0);
    assert!(!rows.iter().any(|r| r.entry.action == "audit.overflow"));
}

/// Runs the real binary on a data directory.
fn scimgate(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("SCIMGATE_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sql(data: &Path, statements: &str) {
    let db = rusqlite::Connection::open(data.join("scimgate.db")).unwrap();
    db.execute_batch(statements).unwrap();
}

fn old_entry(at: i64, actor: &str, action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.into(),
        action: action.into(),
        target: target.into(),
        before: None,
        after: None,
        detail: Some("{\"method\":\"GET\",\"path\":\"/old\"}".into()),
    }
}

#[tokio::test]
async fn retention_prunes_old_decisions_behind_a_checkpoint_that_verify_accepts() {
    let sink_dir = tempfile::tempdir().unwrap();
    let log = sink_dir.path().join("audit.jsonl");
    let env = Env::start(&format!(
        "audit: {{ retention: {{ decisions_max_age: 7d, rows_per_pass: 50 }}, sinks: {{ file: {{ path: {:?} }} }} }}\n",
        log.display().to_string()
    ))
    .await;
    reader(&env, "kim").await;
    let allowed = env
        .get("app.test", "/public/a", Some("kim"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    env.gate.running.audit.flush().await;

    // Forty days ago: 120 decisions and one directory change among them, appended to
    // the chain while the server is down.
    let Env { gate, up, iss } = env;
    let data_dir = gate.dir.path().to_owned();
    let long_ago = scimgate::clock::to_millis(time::OffsetDateTime::now_utc()) - 40 * 86_400_000;
    {
        let store = SqliteStore::open(&data_dir.join("scimgate.db")).unwrap();
        let mut old = Vec::new();
        for i in 0..120 {
            let action = if i % 2 == 0 {
                "access.allow"
            } else {
                "access.deny"
            };
            old.push(old_entry(long_ago + i, "user:old", action, "route:app"));
            if i == 60 {
                old.push(old_entry(
                    long_ago + i,
                    "scim:okta",
                    "user.create",
                    "User/old",
                ));
            }
        }
        store.audit_append(&old).unwrap();
    }
    let gate = gate.restart().await;
    let env = Env { gate, up, iss };
    let audit = env.gate.running.audit.clone();
    audit.flush().await; // the file sink has taken everything
    audit.prune_now().await.unwrap();
    let after = env
        .get("app.test", "/public/b", Some("kim"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
    audit.flush().await;

    let rows = chain(env.gate.dir.path());
    assert!(
        !rows.iter().any(|r| r.entry.actor == "user:old"),
        "old decisions are gone"
    );
    let kept = rows
        .iter()
        .find(|r| r.entry.target == "User/old")
        .expect("directory changes are kept");
    let checkpoints: Vec<&AuditRow> = rows
        .iter()
        .filter(|r| r.entry.action == "audit.checkpoint")
        .collect();
    assert!(checkpoints.len() >= 3, "passes of 50 records");
    let pruned: u64 = checkpoints
        .iter()
        .map(|r| detail(r)["pruned"].as_u64().unwrap())
        .sum();
    assert_eq!(pruned, 120);
    let ops = env.gate.running.ops_addr.expect("an operations listener");
    let scrape = crate::ops::scrape(ops).await;
    assert_eq!(
        crate::ops::value(&scrape, "scimgate_audit_pruned_total", &[]),
        Some(120.0)
    );
    assert!(rows
        .iter()
        .any(|r| r.entry.actor == "user:kim" && r.entry.action == "access.allow"));

    // The sink shipped the old records before they were pruned and carries on after.
    let shipped: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = shipped.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seqs.last(), rows.last().map(|r| r.seq).as_ref());
    assert_eq!(
        shipped.iter().filter(|r| r["actor"] == "user:old").count(),
        120
    );

    let Env { gate, .. } = env;
    let crate::support::Gate { running, dir, .. } = gate;
    running.stop().await;
    let data = dir.path();
    let (ok, out, err) = scimgate(data, &["audit", "verify"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("intact") && out.contains("checkpoints"),
        "{out}"
    );

    // An edit after the last checkpoint is named.
    let last = rows.last().unwrap();
    sql(
        data,
        &format!(
            "UPDATE audit SET target = 'route:other' WHERE seq = {}",
            last.seq
        ),
    );
    let (ok, _, err) = scimgate(data, &["audit", "verify"]);
    assert!(!ok);
    assert!(
        err.contains(&format!("BROKEN at seq {}", last.seq)) && err.contains("edited"),
        "{err}"
    );
    sql(
        data,
        &format!(
            "UPDATE audit SET target = '{}' WHERE seq = {}",
            last.entry.target, last.seq
        ),
    );
    let (ok, _, err) = scimgate(data, &["audit", "verify"]);
    assert!(ok, "{err}");

    // A kept record removed from a pruned range is named too.
    sql(data, &format!("DELETE FROM audit WHERE seq = {}", kept.seq));
    let (ok, _, err) = scimgate(data, &["audit", "verify"]);
    assert!(!ok);
    assert!(err.contains("do not match this checkpoint"), "{err}");
}

#[tokio::test]
async fn the_wal_is_truncated_under_sustained_audit_writes() {
    const WAL_MAX: u64 = 1024 * 1024;
    let env = Env::start(&format!(
        "store: {{ sqlite: {{ wal_max_bytes: {WAL_MAX} }} }}\naudit: {{ max_path_bytes: 4096 }}\n"
    ))
    .await;
    reader(&env, "kim").await;
    let audit = env.gate.running.audit.clone();
    let wal = env.gate.dir.path().join("scimgate.db-wal");
    let path = format!("/public/{}", "w".repeat(4000));
    let round = || async {
        for chunk in (0..300).collect::<Vec<_>>().chunks(20) {
            let sent = chunk.iter().map(|_| async {
                env.get("app.test", &path, Some("kim"))
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
            for s in join_all(sent).await {
                assert_eq!(s.as_u16(), 200);
            }
        }
        300 * 4000u64
    };
    let wal_size = || std::fs::metadata(&wal).map_or(0, |m| m.len());

    // A reader holding an old snapshot keeps the WAL from being checkpointed or reset:
    // it grows past its bound ...
    let pin = rusqlite::Connection::open(env.gate.dir.path().join("scimgate.db")).unwrap();
    pin.execute_batch("BEGIN").unwrap();
    let _: i64 = pin
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    let mut written = round().await;
    audit.flush().await;
    assert!(
        wal_size() > WAL_MAX,
        "the pinned WAL is {} bytes",
        wal_size()
    );
    // ... and once the reader is gone, the next write cycle checkpoints and truncates it.
    pin.execute_batch("COMMIT").unwrap();
    audit.flush().await;
    assert!(wal_size() <= WAL_MAX, "WAL is {} bytes", wal_size());
    for _round in 0..3 {
        written += round().await;
        // A write cycle ends with housekeeping: the WAL stays under its bound.
        audit.flush().await;
        let size = wal_size();
        assert!(
            size <= WAL_MAX,
            "WAL is {size} bytes after {written} bytes of paths"
        );
    }
    assert!(written > 4 * WAL_MAX);
}

/// Retention on the shared store: the same checkpoints on PostgreSQL, and the chain
/// verifies after pruning (an edit after the checkpoint is still named).
#[tokio::test]
async fn retention_on_postgresql_keeps_the_chain_verifiable() {
    use scimgate::audit::verify::verify_store;
    use scimgate::record::checkpoint::PruneRequest;
    const SERVER: &str = "postgres://postgres@127.0.0.1:5432";
    let name = format!("scimgate_t_{}", uuid::Uuid::new_v4().simple());
    let admin = |sql: String| async move {
        let (client, conn) =
            tokio_postgres::connect(&format!("{SERVER}/postgres"), tokio_postgres::NoTls)
                .await
                .unwrap();
        let driver = tokio::spawn(conn);
        client.batch_execute(&sql).await.unwrap();
        drop(client);
        let _ = driver.await;
    };
    admin(format!("CREATE DATABASE {name}")).await;
    let url = format!("{SERVER}/{name}");
    let outcome = tokio::task::spawn_blocking(move || {
        let store =
            scimgate::store::PgStore::open_url(&url, std::time::Duration::from_secs(5)).unwrap();
        let mut old = Vec::new();
        for i in 0..40 {
            let action = if i % 4 == 0 {
                "user.create"
            } else {
                "access.deny"
            };
            old.push(old_entry(i, "user:old", action, "route:app"));
        }
        old.push(old_entry(10_000, "user:new", "access.allow", "route:app"));
        store.audit_append(&old).unwrap();
        let req = PruneRequest {
            at: 20_000,
            cutoff: 1_000,
            max_rows: 16,
            not_after_seq: u64::MAX,
        };
        let mut pruned = 0;
        while let Some(o) = store.audit_prune(&req).unwrap() {
            pruned += o.pruned;
        }
        let intact = verify_store(&store).unwrap().unwrap();
        let rows = store.audit_query(&AuditQuery::default()).unwrap();
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .execute(
                "UPDATE audit SET target = 'route:other' WHERE seq = $1",
                &[&(rows.last().unwrap().seq as i64)],
            )
            .unwrap();
        let broken = verify_store(&store).unwrap().unwrap_err();
        drop(client);
        (pruned, intact, rows, broken)
    })
    .await
    .unwrap();
    admin(format!("DROP DATABASE {name} WITH (FORCE)")).await;
    let (pruned, intact, rows, broken) = outcome;
    assert_eq!(pruned, 30);
    assert!(intact.checkpoints >= 2, "{intact:?}");
    assert_eq!(
        rows.iter()
            .filter(|r| r.entry.action == "user.create")
            .count(),
        10
    );
    assert!(rows.iter().any(|r| r.entry.actor == "user:new"));
    assert_eq!(broken.seq(), rows.last().unwrap().seq);
}
