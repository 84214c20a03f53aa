//! Sessions against a temporary SQLite store, with a clock the tests move.

use std::sync::Arc;
use std::time::Duration;

use http::header::COOKIE;

use super::*;
use crate::authn::testing::ManualClock;
use crate::store::SqliteStore;

const NOW: i64 = 1_800_000_000;

fn cfg() -> SessionConfig {
    SessionConfig {
        ttl: Duration::from_secs(3600),
        cookie_name: "scimgate_session".into(),
        secure: false,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    sessions: Sessions,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let clock = ManualClock::at(NOW);
    let sessions = Sessions::load(store.clone(), cfg(), clock.shared()).unwrap();
    Fixture {
        _dir: dir,
        path,
        store,
        clock,
        sessions,
    }
}

#[tokio::test]
async fn create_lookup_and_end() {
    let f = fixture();
    let token = f.sessions.create("u1").await.unwrap();
    assert_eq!(token.len(), TOKEN_LEN);
    let s = f.sessions.lookup(&token).unwrap();
    assert_eq!(&*s.user_id, "u1");
    assert_eq!(s.created_ms, NOW * 1000);
    assert_eq!(s.expires_ms, NOW * 1000 + 3_600_000);
    // Stored hashed: the row holds the SHA-256, never the token.
    let rows = f.store.sessions_load(0).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].token_hash, hash(&token).to_vec());
    assert_ne!(rows[0].token_hash, token.as_bytes());
    // Two sessions of one user are distinct.
    let other = f.sessions.create("u1").await.unwrap();
    assert_ne!(token, other);
    f.sessions.end(&token).await;
    assert!(f.sessions.lookup(&token).is_none());
    assert!(f.sessions.lookup(&other).is_some());
    assert_eq!(f.store.sessions_load(0).unwrap().len(), 1);
    // Unknown or malformed tokens find nothing.
    assert!(f.sessions.lookup("nope").is_none());
    assert!(f.sessions.lookup(&"A".repeat(TOKEN_LEN)).is_none());
}

#[tokio::test]
async fn end_user_ends_only_that_users_sessions() {
    let f = fixture();
    let a1 = f.sessions.create("a").await.unwrap();
    let a2 = f.sessions.create("a").await.unwrap();
    let b = f.sessions.create("b").await.unwrap();
    assert_eq!(f.sessions.end_user("a"), 2);
    assert_eq!(f.sessions.end_user("a"), 0);
    assert!(f.sessions.lookup(&a1).is_none());
    assert!(f.sessions.lookup(&a2).is_none());
    assert!(f.sessions.lookup(&b).is_some());
    // A later login of the same user works again.
    let a3 = f.sessions.create("a").await.unwrap();
    assert!(f.sessions.lookup(&a3).is_some());
    assert_eq!(f.sessions.end_user("a"), 1);
}

#[tokio::test]
async fn sessions_expire_and_are_purged() {
    let f = fixture();
    let old = f.sessions.create("a").await.unwrap();
    f.clock.advance(Duration::from_secs(1800));
    let young = f.sessions.create("a").await.unwrap();
    f.clock.advance(Duration::from_secs(1799));
    assert!(f.sessions.lookup(&old).is_some());
    f.clock.advance(Duration::from_secs(1));
    assert!(f.sessions.lookup(&old).is_none());
    assert!(f.sessions.lookup(&young).is_some());
    assert_eq!(f.sessions.len(), 2);
    assert_eq!(f.sessions.purge_expired().await.unwrap(), 1);
    assert_eq!(f.sessions.len(), 1);
    assert_eq!(f.store.sessions_load(0).unwrap().len(), 1);
    // The purged session is out of the per-user index too.
    assert_eq!(f.sessions.end_user("a"), 1);
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let f = fixture();
    let token = f.sessions.create("u1").await.unwrap();
    let expiring = f.sessions.create("u2").await.unwrap();
    drop(f.sessions);
    drop(f.store);
    // Half an hour later, in a new process.
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&f.path).unwrap());
    f.clock.advance(Duration::from_secs(1800));
    let reloaded = Sessions::load(store.clone(), cfg(), f.clock.shared()).unwrap();
    let s = reloaded.lookup(&token).unwrap();
    assert_eq!(&*s.user_id, "u1");
    assert_eq!(s.created_ms, NOW * 1000);
    reloaded.end(&expiring).await;
    f.clock.advance(Duration::from_secs(1800));
    let again = Sessions::load(store, cfg(), f.clock.shared()).unwrap();
    assert!(again.is_empty(), "expired sessions are not loaded");
}

#[tokio::test]
async fn a_deprovisioning_commit_and_end_user_together_end_sessions_durably() {
    use crate::record::{Change, StoreOp, UserRecord};
    let f = fixture();
    let user = UserRecord {
        scim_managed: true,
        ..UserRecord::new(0, "u1", "ann")
    };
    let change = |action, ops| Change {
        at: 0,
        actor: "scim:test".into(),
        action,
        resource_type: "User",
        resource_id: "u1".into(),
        before: None,
        after: None,
        ops,
    };
    f.store
        .commit(&[change(
            "user.create",
            vec![StoreOp::PutUser(Arc::new(user.clone()))],
        )])
        .unwrap();
    let token = f.sessions.create("u1").await.unwrap();
    let inactive = UserRecord {
        active: false,
        ..user
    };
    f.store
        .commit(&[change(
            "user.patch",
            vec![StoreOp::PutUser(Arc::new(inactive))],
        )])
        .unwrap();
    assert_eq!(f.sessions.end_user("u1"), 1);
    assert!(f.sessions.lookup(&token).is_none());
    let reloaded = Sessions::load(f.store.clone(), cfg(), f.clock.shared()).unwrap();
    assert!(reloaded.lookup(&token).is_none());
}

#[test]
fn cookies_with_and_without_tls() {
    let f = fixture();
    let token = "t".repeat(TOKEN_LEN);
    assert_eq!(f.sessions.cookie_name(true), "__Host-scimgate_session");
    assert_eq!(f.sessions.cookie_name(false), "scimgate_session");
    assert_eq!(
        f.sessions.set_cookie(&token, true),
        format!(
            "__Host-scimgate_session={token}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure"
        )
        .as_str()
    );
    assert_eq!(
        f.sessions.set_cookie(&token, false),
        format!("scimgate_session={token}; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax").as_str()
    );
    assert_eq!(
        f.sessions.clear_cookie(true),
        "__Host-scimgate_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure"
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        HeaderValue::from_str(&format!("a=b; scimgate_session={token}")).unwrap(),
    );
    assert_eq!(f.sessions.token_from(&headers, false), Some(token.clone()));
    // Under TLS only the `__Host-` cookie counts.
    assert_eq!(f.sessions.token_from(&headers, true), None);
    headers.insert(COOKIE, HeaderValue::from_static("scimgate_session=short"));
    assert_eq!(f.sessions.token_from(&headers, false), None);
}
