//! Unit tests of the SQLite store: round trips, the audit chain, tokens, checkpoints,
//! sessions and the rule that deprovisioning a user deletes their sessions.

use std::sync::Arc;

use rusqlite::Connection;

use super::*;
use crate::record::chain::{record_hash, GENESIS_HASH};
use crate::record::{
    AuditEntry, AuditQuery, Change, GroupRecord, Member, SessionRow, StoreOp, TokenRow, UserRecord,
};

fn user(ord: u32) -> Arc<UserRecord> {
    Arc::new(UserRecord {
        external_id: Some(format!("x{ord}").into()),
        active: ord.is_multiple_of(2),
        emails: vec![format!("u{ord}@example.com").into_boxed_str()].into(),
        license: Some("analyst".into()),
        body: format!("{{\"userName\":\"User{ord}\",\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"]}}").into(),
        created: 1,
        modified: 2,
        version: 3,
        scim_managed: true,
        ..UserRecord::new(ord, format!("u{ord}"), format!("User{ord}"))
    })
}

fn change(action: &'static str, ops: Vec<StoreOp>) -> Change {
    Change {
        at: 1_700_000_000_000,
        actor: "scim:test".into(),
        action,
        resource_type: "User",
        resource_id: "u0".into(),
        before: None,
        after: Some("{}".into()),
        ops,
    }
}

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    (dir, store)
}

/// Every connection the store uses is in WAL mode with `synchronous=FULL` (2), so a
/// commit is on disk before it returns (NORMAL would sync only at checkpoints). A
/// SIGKILL cannot tell the two apart (the OS keeps the unsynced writes); this can. A
/// reopened store is set up the same way.
#[test]
fn every_connection_syncs_each_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    for round in ["new", "reopened"] {
        let store = SqliteStore::open(&path).unwrap();
        let mut roles = Vec::new();
        store.each_connection(|role, conn| {
            let synchronous: i64 = conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap();
            assert_eq!(
                synchronous, 2,
                "{round} store, {role} connection: synchronous={synchronous}, want FULL (2)"
            );
            let mode: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal", "{round} store, {role} connection");
            roles.push(role);
        });
        assert_eq!(
            roles,
            ["writer", "reader", "audit reader", "checkpointer"],
            "{round} store"
        );
    }
}

#[test]
fn commit_and_load_round_trip() {
    let (_d, store) = open();
    let group = Arc::new(GroupRecord {
        created: 1,
        modified: 1,
        ..GroupRecord::new(0, "g0", "eng")
    });
    let seqs = store
        .commit(&[
            change("user.create", vec![StoreOp::PutUser(user(0))]),
            change("user.create", vec![StoreOp::PutUser(user(1))]),
            change(
                "group.create",
                vec![
                    StoreOp::PutGroup(group.clone()),
                    StoreOp::Members {
                        group: 0,
                        replace_all: false,
                        add: vec![Member::User(0), Member::User(1)],
                        remove: vec![],
                    },
                ],
            ),
        ])
        .unwrap();
    assert_eq!(seqs, vec![1, 2, 3]);
    store
        .commit(&[change("user.delete", vec![StoreOp::DeleteUser { ord: 1 }])])
        .unwrap();
    let snap = store.load().unwrap();
    assert_eq!(snap.users, vec![(*user(0)).clone()]);
    assert_eq!(snap.groups, vec![(*group).clone()]);
    assert_eq!(snap.memberships, vec![(0, Member::User(0))]);
    assert_eq!(snap.last_seq, 4);
}

#[test]
fn audit_records_form_a_hash_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(&[change("user.create", vec![StoreOp::PutUser(user(0))])])
            .unwrap();
    }
    // The chain continues across a reopen.
    let store = SqliteStore::open(&path).unwrap();
    store
        .commit(&[change("user.create", vec![StoreOp::PutUser(user(2))])])
        .unwrap();
    store
        .audit_append(&[AuditEntry {
            at: 9,
            actor: "user:alice".into(),
            action: "access.deny".into(),
            target: "route:docs".into(),
            before: None,
            after: None,
            detail: Some(r#"{"method":"GET"}"#.into()),
        }])
        .unwrap();
    let rows = store.audit_query(&AuditQuery::default()).unwrap();
    assert_eq!(rows.len(), 3);
    let mut prev = GENESIS_HASH.to_owned();
    for row in &rows {
        assert_eq!(row.prev_hash, prev);
        assert_eq!(row.hash, record_hash(&prev, &row.entry));
        prev = row.hash.clone();
    }
    let by_alice = AuditQuery {
        user: Some("alice".into()),
        route: Some("docs".into()),
        action_prefix: Some("access.".into()),
        ..AuditQuery::default()
    };
    let found = store.audit_query(&by_alice).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].entry.detail.as_deref(),
        Some(r#"{"method":"GET"}"#)
    );
    let newest = AuditQuery {
        newest_first: true,
        limit: 1,
        ..AuditQuery::default()
    };
    assert_eq!(store.audit_query(&newest).unwrap()[0].seq, rows[2].seq);
}

#[test]
fn batches_of_every_size_are_chained_in_order_with_their_sequence_numbers() {
    // Batches go in by multi-row statements and a remainder row by row: every size
    // around the statement's row count keeps the order, the links and the numbers.
    let (_dir, store) = open();
    let mut at = 0;
    let mut expected_seq = 1;
    for size in [1, 15, 16, 17, 33, 48, 5] {
        let entries: Vec<AuditEntry> = (0..size)
            .map(|_| {
                at += 1;
                AuditEntry {
                    at,
                    actor: format!("user:u{at}"),
                    action: "access.allow".into(),
                    target: "route:docs".into(),
                    before: None,
                    after: (at % 3 == 0).then(|| "{}".to_owned()),
                    detail: (at % 2 == 0).then(|| format!("{{\"n\":{at}}}")),
                }
            })
            .collect();
        let seqs = store.audit_append(&entries).unwrap();
        let wanted: Vec<u64> = (expected_seq..expected_seq + size).collect();
        assert_eq!(seqs, wanted, "a batch of {size}");
        expected_seq += size;
    }
    let rows = store.audit_query(&AuditQuery::default()).unwrap();
    assert_eq!(rows.len() as i64, at);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!((row.seq, row.entry.at), (i as u64 + 1, i as i64 + 1));
    }
    let intact = crate::audit::verify::check(rows).unwrap();
    assert_eq!(intact.last_seq, expected_seq - 1);
}

#[test]
fn token_names_are_unique_and_revocable() {
    let (_d, store) = open();
    let row = TokenRow {
        name: "okta".into(),
        token_id: "0123456789ab".into(),
        hash: vec![1; 32],
        scope: "scim".into(),
        created: 5,
        last_used: None,
    };
    store.token_insert(&row).unwrap();
    assert!(matches!(
        store.token_insert(&row),
        Err(StoreError::Conflict(_))
    ));
    store.token_touch("okta", 9).unwrap();
    assert_eq!(
        store
            .token_by_id("0123456789ab")
            .unwrap()
            .unwrap()
            .last_used,
        Some(9)
    );
    assert!(store.token_revoke("okta").unwrap());
    assert!(!store.token_revoke("okta").unwrap());
    assert!(store.token_by_id("0123456789ab").unwrap().is_none());
}

#[test]
fn maintenance_checkpoints_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = SqliteStore::open(&path).unwrap();
    for i in 0..50 {
        store
            .commit(&[change("user.create", vec![StoreOp::PutUser(user(i))])])
            .unwrap();
    }
    // Commits leave their pages in the WAL: the writer never checkpoints itself.
    let before = std::fs::metadata(&path).unwrap().len();
    store.maintain().unwrap();
    let after = std::fs::metadata(&path).unwrap().len();
    assert!(
        after > before,
        "checkpoint copied pages: {before} -> {after}"
    );
    // Nothing is left to copy.
    let conn = Connection::open(&path).unwrap();
    let (busy, log, done): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(busy, 0);
    assert_eq!(log, done);
}

fn session(hash: u8, user: &str, expires: i64) -> SessionRow {
    SessionRow {
        token_hash: vec![hash; 32],
        user_id: user.into(),
        created: 10,
        expires,
    }
}

fn session_hashes(store: &SqliteStore, now: i64) -> Vec<u8> {
    let mut v: Vec<u8> = store
        .sessions_load(now)
        .unwrap()
        .into_iter()
        .map(|r| r.token_hash[0])
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn sessions_insert_load_delete_and_purge() {
    let (_d, store) = open();
    store.session_insert(&session(1, "u0", 1_000)).unwrap();
    store.session_insert(&session(2, "u0", 2_000)).unwrap();
    store.session_insert(&session(3, "u2", 3_000)).unwrap();
    assert_eq!(
        store.sessions_load(0).unwrap()[..1],
        [session(1, "u0", 1_000)]
    );
    // Only unexpired sessions load: one expiring at `now` is over.
    assert_eq!(session_hashes(&store, 1_000), vec![2, 3]);
    assert!(store.session_delete(&[2; 32]).unwrap());
    assert!(!store.session_delete(&[2; 32]).unwrap());
    assert_eq!(session_hashes(&store, 0), vec![1, 3]);
    assert_eq!(store.sessions_purge_expired(1_000).unwrap(), 1);
    assert_eq!(store.sessions_purge_expired(1_000).unwrap(), 0);
    assert_eq!(session_hashes(&store, 0), vec![3]);
}

#[test]
fn sessions_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    SqliteStore::open(&path)
        .unwrap()
        .session_insert(&session(7, "u0", 5_000))
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.sessions_load(0).unwrap(),
        vec![session(7, "u0", 5_000)]
    );
}

#[test]
fn deactivating_or_deleting_a_user_deletes_their_sessions_in_the_commit() {
    let (_d, store) = open();
    // user(0) and user(2) are active; user(4) too.
    store
        .commit(&[change(
            "user.create",
            vec![
                StoreOp::PutUser(user(0)),
                StoreOp::PutUser(user(2)),
                StoreOp::PutUser(user(4)),
            ],
        )])
        .unwrap();
    store.session_insert(&session(1, "u0", 9_000)).unwrap();
    store.session_insert(&session(2, "u0", 9_000)).unwrap();
    store.session_insert(&session(3, "u2", 9_000)).unwrap();
    store.session_insert(&session(4, "u4", 9_000)).unwrap();

    // A profile update that keeps the user active leaves the sessions alone.
    store
        .commit(&[change("user.replace", vec![StoreOp::PutUser(user(0))])])
        .unwrap();
    assert_eq!(session_hashes(&store, 0), vec![1, 2, 3, 4]);

    // Deactivation ends only that user's sessions.
    let mut inactive = (*user(0)).clone();
    inactive.active = false;
    store
        .commit(&[change(
            "user.patch",
            vec![StoreOp::PutUser(Arc::new(inactive))],
        )])
        .unwrap();
    assert_eq!(session_hashes(&store, 0), vec![3, 4]);

    // Deletion (by ord) ends that user's sessions too.
    store
        .commit(&[change("user.delete", vec![StoreOp::DeleteUser { ord: 2 }])])
        .unwrap();
    assert_eq!(session_hashes(&store, 0), vec![4]);
}

#[test]
fn a_failed_commit_keeps_the_sessions() {
    let (_d, store) = open();
    store
        .commit(&[change("user.create", vec![StoreOp::PutUser(user(0))])])
        .unwrap();
    store.session_insert(&session(1, "u0", 9_000)).unwrap();
    let mut inactive = (*user(0)).clone();
    inactive.active = false;
    // The second op breaks a uniqueness constraint (same userName, other ord), so the
    // whole transaction, session deletion included, rolls back.
    let mut clash = (*user(0)).clone();
    clash.ord = 9;
    clash.id = Arc::from("u9");
    let res = store.commit(&[change(
        "user.patch",
        vec![
            StoreOp::PutUser(Arc::new(inactive)),
            StoreOp::PutUser(Arc::new(clash)),
        ],
    )]);
    assert!(res.is_err());
    assert_eq!(session_hashes(&store, 0), vec![1]);
}

#[test]
fn a_version_1_database_gains_the_later_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
        )
        .unwrap();
        conn.execute_batch(migrations::SQLITE[0].1).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)",
            [],
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    store.session_insert(&session(1, "u0", 9_000)).unwrap();
    assert_eq!(session_hashes(&store, 0), vec![1]);
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(version, migrations::SQLITE.len() as i64);
    // v3: records gain a detail, and the old ones keep their hashes.
    assert!(store
        .audit_query(&AuditQuery::default())
        .unwrap()
        .is_empty());
}

#[test]
fn an_audit_search_in_progress_never_holds_up_token_lookups() {
    let (_d, store) = open();
    let (_, row) = crate::tokens::issue("okta", crate::tokens::TokenScope::Scim, 0);
    store.token_insert(&row).unwrap();
    let store = Arc::new(store);
    // A long audit search holds its connection for as long as it runs.
    let searching = store.audit_search_connection();
    let (tx, rx) = std::sync::mpsc::channel();
    let s = store.clone();
    let token_id = row.token_id.clone();
    std::thread::spawn(move || {
        let _ = tx.send(s.token_by_id(&token_id).map(|r| r.is_some()));
    });
    // A bound only so that a failure ends; the lookup answers while the search runs.
    let found = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the token lookup waited for the audit search");
    assert!(found.unwrap());
    drop(searching);
}

#[test]
fn pruning_keeps_the_chain_verifiable() {
    use crate::audit::verify::verify_store;
    use crate::record::checkpoint::PruneRequest;
    let (_d, store) = open();
    let entry = |at: i64, action: &str| AuditEntry {
        at,
        actor: "user:a".into(),
        action: action.into(),
        target: "route:r".into(),
        before: None,
        after: None,
        detail: None,
    };
    let mut entries = Vec::new();
    for i in 0..30 {
        entries.push(entry(
            i,
            if i % 3 == 0 {
                "user.create"
            } else {
                "access.allow"
            },
        ));
    }
    entries.push(entry(1_000, "access.deny"));
    store.audit_append(&entries).unwrap();
    let req = PruneRequest {
        at: 2_000,
        cutoff: 100,
        max_rows: 8,
        not_after_seq: u64::MAX,
    };
    let mut passes = 0;
    while let Some(o) = store.audit_prune(&req).unwrap() {
        passes += 1;
        assert!(o.pruned > 0 || o.kept > 0);
    }
    assert!(passes >= 4, "{passes}");
    let rows = store.audit_query(&AuditQuery::default()).unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r.entry.action == "access.allow")
            .count(),
        0
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.entry.action == "user.create")
            .count(),
        10
    );
    let intact = verify_store(&store).unwrap().unwrap();
    assert_eq!(intact.checkpoints, passes);
    // A kept record edited inside a pruned range is named.
    let conn = Connection::open(_d.path().join("s.db")).unwrap();
    conn.execute("UPDATE audit SET target = 'x' WHERE seq = 4", [])
        .unwrap();
    let broken = verify_store(&store).unwrap().unwrap_err();
    assert_eq!(broken.seq(), 4);
}

fn access_request(id: &str, created_at: i64) -> crate::record::AccessRequest {
    crate::record::AccessRequest {
        id: id.into(),
        route: "app".into(),
        group: "oncall".into(),
        requester_id: "u0".into(),
        requester_name: "ann".into(),
        reason: Some("INC-1".into()),
        duration: std::time::Duration::from_secs(3600),
        approvals_needed: 2,
        state: crate::record::RequestState::Pending,
        approvals: Vec::new(),
        denial: None,
        created_at,
        starts_at: None,
        ends_at: None,
        ended_at: None,
        ended_by: None,
        end_reason: None,
    }
}

fn vote(approver: &str, approve: bool, at: i64) -> crate::record::Verdict {
    crate::record::Verdict {
        approver_id: approver.into(),
        approver_name: approver.into(),
        approve,
        comment: Some(format!("{approver} says so")),
        at,
    }
}

#[test]
fn access_requests_keep_their_votes_and_ends_across_a_reopen() {
    use crate::record::RequestState;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = SqliteStore::open(&path).unwrap();
    store.access_insert(&access_request("r1", 10)).unwrap();
    store.access_insert(&access_request("r2", 20)).unwrap();
    assert!(matches!(
        store.access_insert(&access_request("r1", 30)),
        Err(StoreError::Conflict(_))
    ));
    // A vote, then one refused (nothing written), then the one that starts it.
    let after = store
        .access_update("r1", &mut |r| {
            r.approvals.push(vote("lee", true, 11));
            true
        })
        .unwrap()
        .unwrap();
    assert_eq!(after.approvals.len(), 1);
    let unchanged = store
        .access_update("r1", &mut |r| {
            r.approvals.push(vote("lou", true, 12));
            false
        })
        .unwrap()
        .unwrap();
    assert_eq!(
        unchanged.approvals.len(),
        1,
        "the stored request, not the refused change"
    );
    store
        .access_update("r1", &mut |r| {
            r.approvals.push(vote("lou", true, 13));
            r.state = RequestState::Active;
            r.starts_at = Some(13);
            r.ends_at = Some(13 + 3_600_000);
            true
        })
        .unwrap();
    // r2: denied long ago.
    store
        .access_update("r2", &mut |r| {
            r.denial = Some(vote("lee", false, 21));
            r.state = RequestState::Denied;
            r.ended_at = Some(21);
            true
        })
        .unwrap();
    assert!(store
        .access_update("nope", &mut |_| true)
        .unwrap()
        .is_none());
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    let r1 = store.access_get("r1").unwrap().unwrap();
    assert_eq!(r1.state, RequestState::Active);
    assert_eq!(
        r1.approvals
            .iter()
            .map(|v| v.approver_id.as_str())
            .collect::<Vec<_>>(),
        ["lee", "lou"]
    );
    assert_eq!(r1.ends_at, Some(13 + 3_600_000));
    assert_eq!(r1.duration, std::time::Duration::from_secs(3600));
    let r2 = store.access_get("r2").unwrap().unwrap();
    assert_eq!(r2.denial.map(|v| v.approver_id), Some("lee".into()));
    // Open ones always; ended ones only if they ended at or after the cutoff.
    let ids = |since| {
        store
            .access_load(since)
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(0), ["r1", "r2"]);
    assert_eq!(ids(22), ["r1"]);
}
