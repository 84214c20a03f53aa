//! The audit trail through the real server: every SCIM change and every decision is on
//! the chain; the queue's overflow is counted and recorded; sinks receive the chain
//! (a rotated file; an HTTP SIEM that is down for a while, across a restart); and
//! `scimgate audit verify|search` (the real binary) name a tampered record.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};

use scimgate::record::{AuditQuery, AuditRow};
use scimgate::store::{SqliteStore, Store};

use crate::proxy_env::{reader, Env};
use crate::siem;
use crate::support;

/// Every record in the data directory's chain, in order.
pub fn chain(data: &Path) -> Vec<AuditRow> {
    let store = SqliteStore::open(&data.join("scimgate.db")).unwrap();
    store.audit_query(&AuditQuery::default()).unwrap()
}

pub fn detail(row: &AuditRow) -> Value {
    serde_json::from_str(row.entry.detail.as_deref().unwrap_or("null")).unwrap()
}

/// The one record with this action and target (panics unless exactly one).
pub fn only<'a>(rows: &'a [AuditRow], action: &str, target: &str) -> &'a AuditRow {
    let found: Vec<&AuditRow> = rows
        .iter()
        .filter(|r| r.entry.action == action && r.entry.target == target)
        .collect();
    assert_eq!(found.len(), 1, "{action} {target} in {rows:#?}");
    found[0]
}

#[tokio::test]
async fn every_scim_change_and_decision_is_on_the_chain() {
    let env = Env::start("").await;
    let (kim, readers) = reader(&env, "kim").await;
    let tom = env.user("tom").await;
    env.add_member(&readers, &tom).await;
    env.gate
        .put(
            &format!("/Users/{tom}"),
            &json!({"schemas": [support::USER_SCHEMA], "userName": "tom", "active": true,
                    "name": {"givenName": "Tom"}}),
        )
        .await
        .expect(200);
    env.deactivate(&tom).await;
    env.gate.delete(&format!("/Users/{tom}")).await.expect(204);
    let doomed = env.group("doomed", &[]).await;
    env.gate
        .delete(&format!("/Groups/{doomed}"))
        .await
        .expect(204);
    let seq_now = env.gate.running.directory.seq();

    let allowed = env
        .get("app.test", "/public/a", Some("kim"))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let allowed_id = allowed.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let by_rule = env
        .get("app.test", "/public/secret.json", Some("kim"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_rule.status(), 403);
    let by_default = env
        .get("app.test", "/private/x", Some("kim"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_default.status(), 403);
    assert_eq!(
        env.get("app.test", "/public/a", None)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        env.get("app.test", "/public/a", Some("ghost"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        env.get("nowhere.test", "/x", Some("kim"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    env.gate.running.audit.flush().await;

    let rows = chain(env.gate.dir.path());
    // Directory changes: which token, what, before and after.
    let created = only(&rows, "user.create", &format!("User/{kim}"));
    assert_eq!(created.entry.actor, "scim:test-idp");
    assert!(created.entry.after.as_deref().unwrap().contains("\"kim\""));
    only(&rows, "group.create", &format!("Group/{readers}"));
    let replaced = only(&rows, "user.replace", &format!("User/{tom}"));
    assert!(
        replaced.entry.before.is_some() && replaced.entry.after.as_deref().unwrap().contains("Tom")
    );
    let patched = only(&rows, "user.patch", &format!("User/{tom}"));
    assert!(patched
        .entry
        .after
        .as_deref()
        .unwrap()
        .contains("\"active\":false"));
    let deleted = only(&rows, "user.delete", &format!("User/{tom}"));
    assert!(
        deleted.entry.before.as_deref().unwrap().contains("\"tom\""),
        "the deprovisioned user is on record"
    );
    assert!(
        rows.iter()
            .filter(
                |r| r.entry.action == "group.patch" && r.entry.target == format!("Group/{readers}")
            )
            .count()
            >= 1
    );
    only(&rows, "group.create", &format!("Group/{doomed}"));
    only(&rows, "group.delete", &format!("Group/{doomed}"));

    // Decisions: user, route, method, normalised path, rule, directory seq, request id.
    let decisions: Vec<&AuditRow> = rows
        .iter()
        .filter(|r| r.entry.action.starts_with("access."))
        .collect();
    assert_eq!(decisions.len(), 6, "{decisions:#?}");
    let allow = decisions
        .iter()
        .find(|r| r.entry.action == "access.allow")
        .unwrap();
    assert_eq!(
        (allow.entry.actor.as_str(), allow.entry.target.as_str()),
        ("user:kim", "route:app")
    );
    let d = detail(allow);
    assert_eq!(d["method"], "GET");
    assert_eq!(d["path"], "/public/a");
    assert_eq!(d["rule"], "readers-public");
    assert_eq!(d["directory_seq"], seq_now);
    assert_eq!(d["request_id"], allowed_id.as_str());
    assert_eq!(d["user_id"], kim.as_str());
    assert_eq!(d["client_ip"], "127.0.0.1");
    let denies: Vec<Value> = decisions
        .iter()
        .filter(|r| r.entry.action == "access.deny")
        .map(|r| detail(r))
        .collect();
    let rules: Vec<&str> = denies.iter().filter_map(|d| d["rule"].as_str()).collect();
    assert!(
        rules.contains(&"no-secrets") && rules.contains(&"default-deny"),
        "{denies:?}"
    );
    let reasons: Vec<&str> = denies.iter().filter_map(|d| d["reason"].as_str()).collect();
    let mut reasons = reasons.clone();
    reasons.sort();
    assert_eq!(reasons, ["no_route", "not_provisioned", "unauthenticated"]);
    assert!(decisions
        .iter()
        .any(|r| r.entry.actor == "anonymous" && r.entry.target == "route:-"));
}

#[tokio::test]
async fn a_full_queue_is_counted_and_the_gap_recorded() {
    // One record per batch: a record the worker has taken off the queue is already
    // being appended (no batch window to wait out).
    let env = Env::start("audit: { queue_capacity: 4, batch_max: 1 }\n").await;
    let audit = env.gate.running.audit.clone();
    let refused = || async {
        let r = env.get("nowhere.test", "/x", None).send().await.unwrap();
        assert_eq!(r.status(), 404);
    };
    // Another writer holds the database: the worker's next append waits for it.
    let db = rusqlite::Connection::open(env.gate.dir.path().join("scimgate.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    refused().await;
    // The worker took that record (the queue is empty again) and is stuck appending it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while audit.stats().queue_depth != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never took the record: {:?}",
            audit.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(audit.stats().appended, 0);
    for _ in 0..4 + 3 {
        refused().await;
    }
    let stats = audit.stats();
    assert_eq!(
        (stats.queue_depth, stats.queue_capacity, stats.overflowed),
        (4, 4, 3)
    );
    db.execute_batch("ROLLBACK").unwrap();
    audit.flush().await;
    let stats = audit.stats();
    assert_eq!(
        (stats.queue_depth, stats.overflowed, stats.appended),
        (0, 3, 1 + 4 + 1)
    );
    let rows = chain(env.gate.dir.path());
    let overflow = only(&rows, "audit.overflow", "audit:queue");
    assert_eq!(detail(overflow)["dropped"], 3);
    assert_eq!(detail(overflow)["total"], 3);
    // The same count is exported.
    let m = crate::ops::scrape(env.gate.running.ops_addr.unwrap()).await;
    assert_eq!(
        crate::ops::value(&m, "scimgate_audit_overflow_total", &[]),
        Some(3.0)
    );
    assert_eq!(
        crate::ops::value(&m, "scimgate_audit_queue_depth", &[]),
        Some(0.0)
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.entry.action == "access.deny")
            .count(),
        5
    );
}

#[tokio::test]
async fn the_file_sink_writes_the_chain_and_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let yaml = format!(
        "audit: {{ tail_interval_ms: 20, sinks: {{ file: {{ path: {:?}, max_bytes: 4096, keep: 2 }} }} }}\n",
        log.display().to_string()
    );
    let gate = support::start(&yaml).await;
    for i in 0..40 {
        gate.create_user(&format!("user-{i:02}-with-a-longer-name"))
            .await;
    }
    gate.running.audit.flush().await;
    let rows = chain(gate.dir.path());
    assert_eq!(rows.len(), 40);
    let read = |p: &Path| -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let rotated = |n: usize| dir.path().join(format!("audit.jsonl.{n}"));
    assert!(!rotated(3).exists(), "only two rotated files are kept");
    let mut files = Vec::new();
    for p in [rotated(2), rotated(1), log.clone()] {
        let size = std::fs::metadata(&p).unwrap().len();
        assert!(size <= 4096, "{} is {size} bytes", p.display());
        files.extend(read(&p));
    }
    // What is kept is the newest records, consecutive, ending at the chain's head.
    let seqs: Vec<u64> = files.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert!(seqs.len() < rows.len(), "older files were rotated away");
    let expected: Vec<u64> =
        (rows.len() as u64 + 1 - seqs.len() as u64..=rows.len() as u64).collect();
    assert_eq!(seqs, expected);
    let last = files.last().unwrap();
    assert_eq!(last["hash"], rows.last().unwrap().hash.as_str());
    assert_eq!(last["action"], "user.create");
    assert_eq!(last["after"]["userName"], "user-39-with-a-longer-name");
}

#[tokio::test]
async fn the_http_sink_delivers_everything_after_a_siem_outage_and_a_restart() {
    let (siem, url) = siem::start(true).await;
    let yaml = format!(
        "audit:\n  tail_interval_ms: 20\n  sinks:\n    http: {{ url: {url:?}, batch_max: 7, retry_initial_ms: 20, retry_max_ms: 100 }}\n"
    );
    let gate = support::start(&yaml).await;
    for i in 0..15 {
        gate.create_user(&format!("u{i}")).await;
    }
    gate.running.audit.flush().await;
    // The SIEM is down: deliveries fail and are retried; the records wait on disk.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while siem.refused.load(Ordering::SeqCst) < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sink never retried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = gate.running.audit.stats();
    let http = stats.sinks.iter().find(|s| s.name == "http").unwrap();
    assert_eq!((http.taken, http.delivered, http.cursor), (15, 0, 15));
    assert!(http.errors >= 3 && http.backlog_bytes > 0, "{http:?}");
    assert!(siem.seqs().is_empty());

    // A restart while the SIEM is down loses nothing: the spool and cursor persist.
    let gate = gate.restart().await;
    for i in 15..20 {
        gate.create_user(&format!("u{i}")).await;
    }
    gate.running.audit.flush().await;
    siem.refusing.store(false, Ordering::SeqCst);
    // Until the sink has had every delivery acknowledged: then nothing is left to send
    // (a duplicate cannot arrive later).
    let backlog = || {
        let stats = gate.running.audit.stats();
        let http = stats.sinks.iter().find(|s| s.name == "http").unwrap();
        http.backlog_bytes
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while siem.seqs().len() < 20 || backlog() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivered only {:?}",
            siem.seqs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        siem.seqs(),
        (1..=20).collect::<Vec<u64>>(),
        "every record once, in order"
    );
    let rows = chain(gate.dir.path());
    let got = siem.records.lock().clone();
    for (row, sent) in rows.iter().zip(&got) {
        assert_eq!(sent["hash"], row.hash.as_str());
        assert_eq!(sent["prev_hash"], row.prev_hash.as_str());
        assert_eq!(sent["action"], row.entry.action.as_str());
    }
    let stats = gate.running.audit.stats();
    let http = stats.sinks.iter().find(|s| s.name == "http").unwrap();
    assert_eq!((http.backlog_bytes, http.dropped), (0, 0));
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

/// A data directory with a chain of directory changes and token events, written by
/// a real server and the real CLI.
async fn recorded_data() -> tempfile::TempDir {
    let gate = support::start("").await;
    for name in ["ann", "bob", "cat", "dan"] {
        gate.create_user(name).await;
    }
    let support::Gate { running, dir, .. } = gate;
    running.stop().await;
    let (ok, token, _) = scimgate(dir.path(), &["token", "create", "okta-2"]);
    assert!(ok);
    let (ok, _, _) = scimgate(dir.path(), &["token", "revoke", "okta-2"]);
    assert!(ok);
    let rows = chain(dir.path());
    assert_eq!(rows.len(), 6);
    let token_rows: Vec<&AuditRow> = rows
        .iter()
        .filter(|r| r.entry.target == "token:okta-2")
        .collect();
    assert_eq!(
        token_rows
            .iter()
            .map(|r| r.entry.action.as_str())
            .collect::<Vec<_>>(),
        ["token.create", "token.revoke"]
    );
    for r in &token_rows {
        assert_eq!(r.entry.actor, "cli");
        // The secret is all after `scimgate_<id>_`: base64url, so it may hold '_' itself.
        let secret = token.trim().splitn(3, '_').nth(2).unwrap();
        assert!(
            !format!("{r:?}").contains(secret),
            "the secret is never recorded"
        );
    }
    dir
}

fn sql(data: &Path, statements: &str) {
    let db = rusqlite::Connection::open(data.join("scimgate.db")).unwrap();
    db.execute_batch(statements).unwrap();
}

#[tokio::test]
async fn verify_passes_untouched_and_names_an_edited_removed_or_swapped_record() {
    let data = recorded_data().await;
    let (ok, out, err) = scimgate(data.path(), &["audit", "verify"]);
    assert!(ok, "{err}");
    assert!(out.contains("intact: 6 records, last seq 6"), "{out}");

    let edited = recorded_data().await;
    sql(
        edited.path(),
        "UPDATE audit SET after = replace(after, 'bob', 'eve') WHERE seq = 2",
    );
    let (ok, _, err) = scimgate(edited.path(), &["audit", "verify"]);
    assert!(!ok);
    assert!(
        err.contains("BROKEN at seq 2") && err.contains("edited"),
        "{err}"
    );

    let removed = recorded_data().await;
    sql(removed.path(), "DELETE FROM audit WHERE seq = 3");
    let (ok, _, err) = scimgate(removed.path(), &["audit", "verify"]);
    assert!(!ok);
    assert!(
        err.contains("BROKEN at seq 4") && err.contains("records 3 to 3 were removed"),
        "{err}"
    );

    let swapped = recorded_data().await;
    sql(
        swapped.path(),
        "UPDATE audit SET seq = 100 WHERE seq = 2;
         UPDATE audit SET seq = 2 WHERE seq = 3;
         UPDATE audit SET seq = 3 WHERE seq = 100;",
    );
    let (ok, _, err) = scimgate(swapped.path(), &["audit", "verify"]);
    assert!(!ok);
    assert!(
        err.contains("BROKEN at seq 2") && err.contains("swapped with record 3"),
        "{err}"
    );
}

#[tokio::test]
async fn search_filters_by_user_action_and_time() {
    let data = recorded_data().await;
    let (ok, out, err) = scimgate(data.path(), &["audit", "search", "--user", "bob", "--json"]);
    assert!(ok, "{err}");
    let found: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), 1, "{out}");
    assert_eq!(found[0]["after"]["userName"], "bob");

    let (ok, out, _) = scimgate(
        data.path(),
        &["audit", "search", "--action", "token.", "--since", "1h"],
    );
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        out.contains("token.create") && out.contains("token:okta-2"),
        "{out}"
    );

    let (ok, out, _) = scimgate(
        data.path(),
        &["audit", "search", "--until", "2000-01-01T00:00:00Z"],
    );
    assert!(ok);
    assert_eq!(out.lines().count(), 0, "{out}");
    let (ok, out, _) = scimgate(data.path(), &["audit", "search", "--limit", "2", "--json"]);
    assert!(ok);
    let seqs: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [5, 6], "the newest, oldest first");

    let (ok, _, err) = scimgate(data.path(), &["audit", "search", "--since", "yesterday"]);
    assert!(!ok);
    assert!(err.contains("\"yesterday\" is neither"), "{err}");
}

#[tokio::test]
async fn policy_reloads_are_recorded_accepted_or_refused() {
    let env = Env::start("").await;
    let policies = env.gate.dir.path().join("policies");
    let digest = env.gate.running.policy.status().digest;
    std::fs::write(policies.join("app.yaml"), "routes: [ this is not valid").unwrap();
    let err = env.gate.running.policy.reload().unwrap_err();
    assert!(err.to_string().contains("app.yaml"), "{err}");
    // The last good policies stay in force.
    assert_eq!(env.gate.running.policy.status().digest, digest);
    let good = crate::proxy_env::standard_policy(&env.up.url())
        .replace("/public/secret.json", "/public/hidden.json");
    std::fs::write(policies.join("app.yaml"), good).unwrap();
    env.gate.running.policy.reload().unwrap();
    env.gate.running.audit.flush().await;
    let rows = chain(env.gate.dir.path());
    let refused = rows
        .iter()
        .find(|r| r.entry.action == "policy.reload_refused")
        .expect("refusal recorded");
    assert!(
        detail(refused)["error"]
            .as_str()
            .unwrap()
            .contains("app.yaml"),
        "{refused:?}"
    );
    let applied = rows
        .iter()
        .rfind(|r| r.entry.action == "policy.reload")
        .expect("reload recorded");
    assert_eq!(
        detail(applied)["digest"],
        env.gate.running.policy.status().digest.as_str()
    );
}

#[tokio::test]
async fn the_syslog_sink_sends_rfc5424_messages() {
    let receiver = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let yaml = format!(
        "audit: {{ tail_interval_ms: 20, sinks: {{ syslog: {{ address: \"{}\", transport: udp, facility: local3 }} }} }}\n",
        receiver.local_addr().unwrap()
    );
    let gate = support::start(&yaml).await;
    gate.create_user("sam").await;
    gate.running.audit.flush().await;
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(Duration::from_secs(5), receiver.recv(&mut buf))
        .await
        .expect("a syslog message arrives")
        .unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    // <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG; local3.notice = 19*8+5.
    assert!(msg.starts_with("<157>1 "), "{msg}");
    let fields: Vec<&str> = msg.splitn(7, ' ').collect();
    assert_eq!((fields[3], fields[5]), ("scimgate", "user.create"), "{msg}");
    let row = &chain(gate.dir.path())[0];
    assert!(
        fields[6].starts_with(&format!("[scimgate@32473 seq=\"1\" hash=\"{}\"]", row.hash)),
        "{msg}"
    );
    let json_start = msg.find('{').unwrap();
    let body: Value = serde_json::from_str(msg[json_start..].trim_end()).unwrap();
    assert_eq!(body["after"]["userName"], "sam");
}
