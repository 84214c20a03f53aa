//! Replicas as separate processes: `scimgate serve` started several times together on
//! one fresh database (made for the test). Each test's replicas race to migrate the
//! empty database at startup; all must come up. Then
//!
//! - the migration ran once: with every replica held at the migration lock (the test
//!   holds it while they start) and then let go at the same moment, all come up, the
//!   schema is at its latest version with one row per migration, and each serves what
//!   the others write;
//! - a SCIM write through one replica is served and enforced by the others: users and
//!   a group made on A allow and deny on B and C, a membership added on B and one
//!   removed on C are in force on the rest;
//! - revocation crosses processes: a deactivation on A denies on B and C and cuts an
//!   open download on C; a deletion on B denies on A and C.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use super::env::{eventually, store_yaml, Proxying, TestDb};
use super::procs::{give_token, spawn_together, start_together, Proc};
use crate::revocation::drain;
use crate::support::{sorted, sorted_values, GROUP_SCHEMA, PATCH_SCHEMA};
use scimgate::store::postgres::MIGRATE_LOCK;

/// Replicas that start waiting on a lock the test holds: their statement and lock
/// timeouts must outlast the wait.
fn patient_store_yaml(url: &str) -> String {
    format!("store:\n  postgres:\n    url: \"{url}\"\n    max_stale_seconds: 10\n    timeout_seconds: 60\n")
}

/// Sessions of this database waiting for the migration lock.
async fn waiting_to_migrate(c: &tokio_postgres::Client) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
         WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted
           AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
        &[&MIGRATE_LOCK],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_started_together_on_a_fresh_database_migrate_it_once() {
    const N: usize = 4;
    let db = TestDb::create().await;
    let (holder, conn) = tokio_postgres::connect(&db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK])
        .await
        .unwrap();
    let mut spawned = spawn_together(N, &patient_store_yaml(&db.url()), &[]);
    // Every replica is at the lock: none got ahead of the others.
    let t0 = Instant::now();
    while waiting_to_migrate(&holder).await < N as i64 {
        for s in &mut spawned {
            s.assert_running();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "not every replica waits for the migration lock ({} of {N})",
            waiting_to_migrate(&holder).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let schema: Option<String> = holder
        .query_one("SELECT to_regclass('schema_migrations')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(schema, None, "nothing migrated while the lock was held");
    // All of them at once.
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK])
        .await
        .unwrap();
    let mut rs = Vec::new();
    for s in spawned {
        rs.push(s.listening().await);
    }
    let versions: Vec<i64> = holder
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!versions.is_empty());
    assert_eq!(
        versions,
        (1..=versions.len() as i64).collect::<Vec<_>>(),
        "each migration applied once, in order"
    );
    // A store opened now finds the schema current and migrates nothing.
    let token = db.token("idp").await;
    let again: i64 = holder
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(again, versions.len() as i64);
    give_token(&mut rs, &token);
    // One directory: what each writes, every other serves.
    for (k, writer) in rs.iter().enumerate() {
        let id = writer.create_user(&format!("r{k}")).await.expect(201).id();
        for r in &rs {
            eventually(
                Duration::from_secs(5),
                "every replica serves the user",
                || async {
                    r.scim(Method::GET, &format!("/Users/{id}"), None)
                        .await
                        .status
                        == 200
                },
            )
            .await;
        }
    }
}

/// Three replica processes with the standard policy, started together on a fresh
/// database, and a SCIM token for them.
async fn three(db: &TestDb, p: &Proxying) -> Vec<Proc> {
    let yaml = format!("{}{}", p.iss.config(), store_yaml(&db.url(), 10.0));
    let mut rs = start_together(3, &yaml, &[("app.yaml", &p.policy)]).await;
    let token = db.token("idp").await;
    give_token(&mut rs, &token);
    rs
}

/// PATCHes `group` through `r`: `op` ("add" or "remove") the member `id`.
async fn change_members(r: &Proc, group: &str, op: &str, id: &str) {
    let body = json!({"schemas": [PATCH_SCHEMA],
        "Operations": [{"op": op, "path": "members", "value": [{"value": id}]}]});
    r.scim(Method::PATCH, &format!("/Groups/{group}"), Some(&body))
        .await
        .expect(204);
}

/// Waits until `r` answers `user`'s proxied GET with `want`.
async fn proxied_becomes(r: &Proc, p: &Proxying, user: &str, want: u16, what: &str) {
    eventually(Duration::from_secs(5), what, || async {
        r.proxied(&p.iss, "app.test", "/public/a", user).await == want
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scim_write_through_one_process_is_served_and_enforced_by_the_others() {
    let db = TestDb::create().await;
    let p = Proxying::start().await;
    let rs = three(&db, &p).await;
    let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
    // Written through A: three users, the first two readers.
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(a.create_user(&format!("u{i}")).await.expect(201).id());
    }
    let group = a
        .scim(
            Method::POST,
            "/Groups",
            Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "readers",
                "members": [{"value": ids[0]}, {"value": ids[1]}]})),
        )
        .await
        .expect(201)
        .id();
    for r in [b, c] {
        eventually(Duration::from_secs(5), "the group is served", || async {
            let g = r.scim(Method::GET, &format!("/Groups/{group}"), None).await;
            g.status == 200 && sorted_values(&g.body["members"]) == sorted(&[&ids[0], &ids[1]])
        })
        .await;
        proxied_becomes(r, &p, "u0", 200, "a reader is allowed").await;
        proxied_becomes(r, &p, "u1", 200, "a reader is allowed").await;
        // u2 exists everywhere by now (it was written before the group) and is no reader.
        assert_eq!(
            r.scim(Method::GET, &format!("/Users/{}", ids[2]), None)
                .await
                .status,
            200
        );
        assert_eq!(r.proxied(&p.iss, "app.test", "/public/a", "u2").await, 403);
    }
    // A membership added through B is in force on A and C.
    assert_eq!(a.proxied(&p.iss, "app.test", "/public/a", "u2").await, 403);
    change_members(b, &group, "add", &ids[2]).await;
    for r in [a, c] {
        proxied_becomes(r, &p, "u2", 200, "the member added on B is allowed").await;
    }
    // One removed through C is out on A and B.
    for r in [a, b] {
        assert_eq!(r.proxied(&p.iss, "app.test", "/public/a", "u1").await, 200);
    }
    change_members(c, &group, "remove", &ids[1]).await;
    for r in [a, b] {
        proxied_becomes(r, &p, "u1", 403, "the member removed on C is denied").await;
        assert_eq!(r.proxied(&p.iss, "app.test", "/public/a", "u0").await, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_one_process_denies_on_the_others_and_cuts_their_streams() {
    let db = TestDb::create().await;
    let p = Proxying::start().await;
    let rs = three(&db, &p).await;
    let (a, b, c) = (&rs[0], &rs[1], &rs[2]);
    let mut ids = Vec::new();
    for (i, r) in rs.iter().enumerate() {
        ids.push(r.create_user(&format!("u{i}")).await.expect(201).id());
    }
    let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    a.scim(
        Method::POST,
        "/Groups",
        Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "readers", "members": members})),
    )
    .await
    .expect(201);
    for r in &rs {
        for user in ["u0", "u1", "u2"] {
            proxied_becomes(r, &p, user, 200, "every replica allows").await;
        }
    }
    // u0 holds a download open on C.
    let mut stream = c
        .http
        .get(format!("{}/public/slow", c.root()))
        .header("host", "app.test")
        .bearer_auth(p.iss.token("u0"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.unwrap().is_some(), "the stream flows");
    let cut = tokio::spawn(drain(stream));
    // Deactivated through A: denied on B and C, the stream on C cut.
    a.deactivate(&ids[0]).await.expect(200);
    for r in [b, c] {
        proxied_becomes(r, &p, "u0", 403, "the deactivated user is denied").await;
        assert_eq!(r.proxied(&p.iss, "app.test", "/public/a", "u1").await, 200);
    }
    let was_cut = tokio::time::timeout(Duration::from_secs(5), cut)
        .await
        .expect("the stream on C was not cut")
        .unwrap();
    assert!(was_cut, "the stream ended with an error, not a clean end");
    // Deleted through B: denied on A and C.
    b.scim(Method::DELETE, &format!("/Users/{}", ids[1]), None)
        .await
        .expect(204);
    for r in [a, c] {
        proxied_becomes(r, &p, "u1", 403, "the deleted user is denied").await;
        assert_eq!(r.proxied(&p.iss, "app.test", "/public/a", "u2").await, 200);
    }
}
