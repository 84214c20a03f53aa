//! `audit search --user` and `--route` find the just-in-time access records
//! (`grant.*`) of a requester and a route, on SQLite and on PostgreSQL alike, and
//! nothing of another user or route whose name only starts the same.

use scimgate::audit::grants::{grant_record, GrantAction};
use scimgate::record::{AccessRequest, AuditEntry, AuditQuery};
use scimgate::store::{SqliteStore, Store};

use crate::replicas::env::TestDb;

fn request(id: &str, route: &str, requester: &str, reason: &str) -> AccessRequest {
    crate::support::pending_request(id, route, &format!("id-{requester}"), requester, reason)
}

fn entries() -> Vec<AuditEntry> {
    vec![
        // ann asks on app; lee approves; the system expires it.
        grant_record(
            10,
            "user:ann",
            GrantAction::Request,
            &request("r1", "app", "ann", "INC-1"),
            None,
        ),
        grant_record(
            11,
            "user:lee",
            GrantAction::Approve,
            &request("r1", "app", "ann", "INC-1"),
            None,
        ),
        grant_record(
            12,
            "system",
            GrantAction::Expire,
            &request("r1", "app", "ann", "INC-1"),
            None,
        ),
        // anna (a name ann starts) on app2 (a route app starts), whose reason names both.
        grant_record(
            13,
            "user:anna",
            GrantAction::Request,
            &request("r2", "app2", "anna", r#""requester":"ann" "route":"app""#),
            None,
        ),
        // A decision on app by ann.
        AuditEntry {
            at: 14,
            actor: "user:ann".into(),
            action: "access.allow".into(),
            target: "route:app".into(),
            before: None,
            after: None,
            detail: None,
        },
    ]
}

fn found(store: &dyn Store, user: Option<&str>, route: Option<&str>) -> Vec<(i64, String)> {
    let q = AuditQuery {
        user: user.map(str::to_owned),
        route: route.map(str::to_owned),
        ..AuditQuery::default()
    };
    store
        .audit_query(&q)
        .unwrap()
        .into_iter()
        .map(|r| (r.entry.at, r.entry.action))
        .collect()
}

fn check(store: &dyn Store) {
    store.audit_append(&entries()).unwrap();
    let ann: Vec<i64> = found(store, Some("ann"), None)
        .iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        ann,
        [10, 11, 12, 14],
        "ann's requests, their votes and end, her decision"
    );
    let app: Vec<i64> = found(store, None, Some("app"))
        .iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        app,
        [10, 11, 12, 14],
        "app's grants and decisions, not app2's"
    );
    let lee: Vec<i64> = found(store, Some("lee"), None)
        .iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(lee, [11], "lee's vote");
    let both: Vec<i64> = found(store, Some("anna"), Some("app2"))
        .iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(both, [13]);
}

#[test]
fn sqlite_finds_grant_records_by_requester_and_route() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("scimgate.db")).unwrap();
    check(&store);
}

#[tokio::test]
async fn postgres_finds_grant_records_by_requester_and_route() {
    let db = TestDb::create().await;
    let store = db.store().await;
    tokio::task::spawn_blocking(move || check(&store))
        .await
        .unwrap();
}
