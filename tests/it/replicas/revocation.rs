//! Sessions across replicas (in process: the sessions are made directly, as the login
//! flow does, which needs the replica's insides): a session made on one replica works
//! on the others, and signing out or deprovisioning ends it everywhere. Revocation of
//! proxied bearer requests and streams across replica processes is in
//! [`super::processes`].

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::env::{eventually, store_yaml, Proxying, Replica, TestDb};
use crate::support::GROUP_SCHEMA;

/// How long a change may take to show before the test fails (a guard against hanging,
/// not a latency target).
const GUARD: Duration = Duration::from_secs(30);

async fn three(db: &TestDb, p: &Proxying) -> Vec<Replica> {
    let token = db.token("idp").await;
    let yaml = format!("{}{}", p.iss.config(), store_yaml(&db.url(), 10.0));
    let mut out = Vec::new();
    for _ in 0..3 {
        out.push(Replica::start(&yaml, &token, &[("app.yaml", &p.policy)]).await);
    }
    out
}

fn cookie(r: &Replica, token: &str) -> String {
    format!("{}={token}", r.running.sessions.cookie_name(false))
}

async fn me_status(r: &Replica, cookie: &str) -> u16 {
    me(r, cookie).await.0
}

/// The status of a request with this session cookie, and the JSON `error` of a refusal.
async fn me(r: &Replica, cookie: &str) -> (u16, String) {
    let resp = r
        .http
        .get(format!("{}/public/a", r.root()))
        .header("host", "app.test")
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn sessions_are_shared_and_end_everywhere() {
    let db = TestDb::create().await;
    let p = Proxying::start().await;
    let rs = three(&db, &p).await;
    let mut ids = Vec::new();
    for i in 0..2 {
        ids.push(rs[0].create_user(&format!("s{i}")).await.expect(201).id());
    }
    let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    rs[0]
        .scim(
            Method::POST,
            "/Groups",
            Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "readers", "members": members})),
        )
        .await
        .expect(201);
    // Logged in on A (as the login flow does), used on B and C.
    let t0 = rs[0].running.sessions.create(&ids[0]).await.unwrap();
    let t1 = rs[0].running.sessions.create(&ids[1]).await.unwrap();
    let (c0, c1) = (cookie(&rs[0], &t0), cookie(&rs[0], &t1));
    for r in &rs {
        eventually(GUARD, "the session works everywhere", || async {
            me_status(r, &c0).await == 200 && me_status(r, &c1).await == 200
        })
        .await;
    }
    // Sign-out on B ends the session on A and C too.
    rs[1].running.sessions.end(&t0).await;
    for r in &rs {
        eventually(GUARD, "signed out everywhere", || async {
            me_status(r, &c0).await == 401
        })
        .await;
        // An ended session is no session: sign in again.
        assert_eq!(me(r, &c0).await, (401, "unauthenticated".to_owned()));
    }
    // Deprovisioning on C ends s1's session on A and B.
    rs[2]
        .scim(Method::DELETE, &format!("/Users/{}", ids[1]), None)
        .await
        .expect(204);
    for r in &rs {
        eventually(GUARD, "deprovisioned everywhere", || async {
            r.running.sessions.lookup(&t1).is_none() && me_status(r, &c1).await == 401
        })
        .await;
        assert_eq!(me(r, &c1).await, (401, "unauthenticated".to_owned()));
    }
}
