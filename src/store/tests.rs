//! Unit tests of the SQLite store: round trips, the audit chain, tokens, checkpoints.

use std::sync::Arc;

use rusqlite::Connection;

use super::sqlite::{audit_hash, GENESIS_HASH};
use super::*;
use crate::directory::model::{GroupRecord, Member, UserRecord};

fn user(ord: u32) -> Arc<UserRecord> {
    Arc::new(UserRecord {
        ord,
        id: Arc::from(format!("u{ord}")),
        user_name: format!("User{ord}").into(),
        external_id: Some(format!("x{ord}").into()),
        active: ord % 2 == 0,
        emails: vec![format!("u{ord}@example.com").into_boxed_str()].into(),
        license: Some("analyst".into()),
        user_type: None,
        body: format!("{{\"userName\":\"User{ord}\",\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"]}}").into(),
        created: 1,
        modified: 2,
        version: 3,
        scim_managed: true,
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

/// at, actor, action, target, before, after, prev_hash, hash.
type AuditRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    (dir, store)
}

#[test]
fn commit_and_load_round_trip() {
    let (_d, store) = open();
    let group = Arc::new(GroupRecord {
        ord: 0,
        id: Arc::from("g0"),
        display_name: "eng".into(),
        external_id: None,
        body: "{}".into(),
        created: 1,
        modified: 1,
        version: 1,
        scim_managed: false,
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
    let conn = Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare("SELECT at, actor, action, target, before, after, prev_hash, hash FROM audit ORDER BY seq")
        .unwrap();
    let rows: Vec<AuditRow> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    let mut prev = GENESIS_HASH.to_owned();
    for (at, actor, action, target, before, after, prev_hash, hash) in rows {
        assert_eq!(prev_hash, prev);
        let want = audit_hash(
            &prev,
            at,
            &actor,
            &action,
            &target,
            before.as_deref(),
            after.as_deref(),
        );
        assert_eq!(hash, want);
        prev = hash;
    }
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
