//! `scimgate migrate`: an embedded store moved to PostgreSQL keeps its users, groups,
//! memberships, tokens, sessions, access requests and audit chain, and the chain still verifies, by
//! `scimgate audit verify` itself (and keeps growing from where it was).

use std::process::Command;

use reqwest::Method;

use super::env::{store_yaml, Replica, TestDb};
use crate::support::{self, sorted_values};
use scimgate::record::chain::{record_hash, GENESIS_HASH};
use scimgate::record::{AccessRequest, AuditQuery, AuditRow, RequestState, Verdict};
use scimgate::store::{SqliteStore, Store};

/// Checks the chain the way `audit verify` does: each record's prev is the last hash,
/// and each hash is recomputed from the record.
fn verify_chain(rows: &[AuditRow]) {
    let mut prev = GENESIS_HASH.to_owned();
    for r in rows {
        assert_eq!(r.prev_hash, prev, "chain broken before seq {}", r.seq);
        assert_eq!(
            record_hash(&prev, &r.entry),
            r.hash,
            "record {} altered",
            r.seq
        );
        prev = r.hash.clone();
    }
}

/// `scimgate audit verify`, the real command, on the PostgreSQL store at `url`.
fn audit_verify(url: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scimgate.yaml");
    std::fs::write(&config, store_yaml(url, 10.0)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .env_remove("SCIMGATE_CONFIG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "audit verify: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_store_keeps_everything_and_its_audit_chain_verifies() {
    // An embedded store with some history.
    let g = support::start("").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            g.create_user(&format!("mig{i}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let team = g.create_group("team", &[&ids[0], &ids[1]]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let outer = g.create_group("outer", &[&team, &ids[4]]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    g.delete(&format!("/Users/{}", ids[3])).await.expect(204);
    let session = g.running.sessions.create(&ids[2]).await.unwrap();
    let data = g.dir.path().to_path_buf();
    let token = g.token.clone();
    let seq = g.running.directory.seq();
    let users_before = g.running.directory.user_count();
    g.running.stop().await;
    let sqlite = SqliteStore::open(&data.join("scimgate.db")).unwrap();
    let audit_before = sqlite.audit_query(&AuditQuery::default()).unwrap();
    let tokens_before = sqlite.token_list().unwrap();
    // An access request with a vote, and its grant started.
    let request = access_request(&ids[2]);
    sqlite.access_insert(&request).unwrap();
    let access_before = sqlite
        .access_update(&request.id, &mut |r| {
            r.approvals.push(Verdict {
                approver_id: ids[0].clone(),
                approver_name: "mig0".into(),
                approve: true,
                comment: Some("ok".into()),
                at: 2,
            });
            r.state = RequestState::Active;
            r.starts_at = Some(2);
            r.ends_at = Some(3_600_002);
            true
        })
        .unwrap()
        .unwrap();
    drop(sqlite);
    assert!(!audit_before.is_empty());

    let db = TestDb::create().await;
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["migrate", "--from"])
        .arg(&data)
        .args(["--to", &db.url()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("moved 4 users, 2 groups"), "{summary}");
    assert!(summary.contains(", 1 access requests"), "{summary}");
    // Migrating again into a database that holds data is refused.
    let again = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["migrate", "--from"])
        .arg(&data)
        .args(["--to", &db.url()])
        .output()
        .unwrap();
    assert!(!again.status.success());

    let store = db.store().await;
    let request_id = access_before.id.clone();
    let (audit_after, tokens_after, access_after) = tokio::task::spawn_blocking(move || {
        (
            store.audit_query(&AuditQuery::default()).unwrap(),
            store.token_list().unwrap(),
            store.access_get(&request_id).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(access_after, Some(access_before));
    assert_eq!(audit_after, audit_before);
    verify_chain(&audit_after);
    let url = db.url();
    tokio::task::spawn_blocking(move || audit_verify(&url))
        .await
        .unwrap();
    assert_eq!(tokens_after, tokens_before);

    // A replica on the database: same directory, same token, same session.
    let r = Replica::start(&store_yaml(&db.url(), 10.0), &token, &[]).await;
    assert_eq!(r.running.directory.seq(), seq);
    assert_eq!(r.running.directory.user_count(), users_before);
    for (i, id) in ids.iter().enumerate() {
        let want = if i == 3 { 404 } else { 200 };
        assert_eq!(
            r.scim(Method::GET, &format!("/Users/{id}"), None)
                .await
                .status,
            want
        );
    }
    let t = r
        .scim(Method::GET, &format!("/Groups/{team}"), None)
        .await
        .expect(200);
    assert_eq!(
        sorted_values(&t.body["members"]),
        support::sorted(&[&ids[0], &ids[1]])
    );
    let o = r
        .scim(Method::GET, &format!("/Groups/{outer}"), None)
        .await
        .expect(200);
    assert_eq!(
        sorted_values(&o.body["members"]),
        support::sorted(&[&team, &ids[4]])
    );
    let s = r
        .running
        .sessions
        .lookup(&session)
        .expect("the session moved");
    assert_eq!(&*s.user_id, ids[2].as_str());
    // The chain keeps growing from where it was, and still verifies.
    r.create_user("after-migration").await.expect(201);
    let store = db.store().await;
    let all =
        tokio::task::spawn_blocking(move || store.audit_query(&AuditQuery::default()).unwrap())
            .await
            .unwrap();
    assert!(all.len() > audit_before.len());
    verify_chain(&all);
    let url = db.url();
    tokio::task::spawn_blocking(move || audit_verify(&url))
        .await
        .unwrap();
}

/// A pending access request of `user` for `oncall` on `app`.
fn access_request(user: &str) -> AccessRequest {
    crate::support::pending_request("req-moved", "app", user, "mig2", "INC-1")
}
