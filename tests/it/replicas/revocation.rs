//! Revocation across replicas: a deactivation sent to one replica denies the user on
//! the others and cuts their open streams; a session made on one replica works on the
//! others, and signing out or deprovisioning ends it everywhere. How soon is measured
//! by `cargo bench --bench replica -- revocation`; here, that it happens.

use std::time::{Duration, Instant};

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

#[tokio::test]
async fn a_deactivation_on_one_replica_denies_on_the_others_and_cuts_their_streams() {
    let db = TestDb::create().await;
    let p = Proxying::start().await;
    let rs = three(&db, &p).await;
    // Writes spread across the replicas.
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            rs[i % 3]
                .create_user(&format!("u{i}"))
                .await
                .expect(201)
                .id(),
        );
    }
    let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    rs[1]
        .scim(
            Method::POST,
            "/Groups",
            Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "readers", "members": members})),
        )
        .await
        .expect(201);
    for r in &rs {
        for i in 0..6 {
            let user = format!("u{i}");
            eventually(GUARD, "every replica allows", || async {
                r.proxied(&p.iss, "app.test", "/public/a", &user).await == 200
            })
            .await;
        }
    }
    // u0 holds a download open on C.
    let mut stream = as_user(&rs[2], &p, "/public/slow", "u0")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.unwrap().is_some(), "the stream flows");
    let cut = tokio::spawn(async move {
        loop {
            match stream.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => return false,
                Err(_) => return true,
            }
        }
    });
    rs[0].deactivate(&ids[0]).await.expect(200);
    let acked = Instant::now();
    for (name, r) in [("B", &rs[1]), ("C", &rs[2])] {
        let took = eventually(GUARD, "denied on the other replicas", || async {
            r.proxied(&p.iss, "app.test", "/public/a", "u0").await == 403
        })
        .await;
        eprintln!("{name} denies {} ms after A answered", took.as_millis());
        // As not provisioned: the identity is fine, the user is not active.
        let refusal = as_user(r, &p, "/public/a", "u0").send().await.unwrap();
        assert_eq!(refusal.status(), 403);
        let body: serde_json::Value = refusal.json().await.unwrap();
        assert_eq!(body["error"], "not_provisioned", "{body}");
        // Others are untouched.
        assert_eq!(r.proxied(&p.iss, "app.test", "/public/a", "u1").await, 200);
    }
    let was_cut = tokio::time::timeout(GUARD, cut)
        .await
        .expect("the stream on C was not cut")
        .unwrap();
    assert!(was_cut, "the stream ended with an error, not a clean end");
    eprintln!("stream on C cut within {} ms", acked.elapsed().as_millis());
}

/// A GET on `app.test` through replica `r` with a bearer token for `user`.
fn as_user(r: &Replica, p: &Proxying, path: &str, user: &str) -> reqwest::RequestBuilder {
    r.http
        .get(format!("{}{path}", r.root()))
        .header("host", "app.test")
        .bearer_auth(p.iss.token(user))
}

fn cookie(r: &Replica, token: &str) -> String {
    format!("{}={token}", r.running.gate.sessions.cookie_name(false))
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
    let t0 = rs[0].running.gate.sessions.create(&ids[0]).await.unwrap();
    let t1 = rs[0].running.gate.sessions.create(&ids[1]).await.unwrap();
    let (c0, c1) = (cookie(&rs[0], &t0), cookie(&rs[0], &t1));
    for r in &rs {
        eventually(GUARD, "the session works everywhere", || async {
            me_status(r, &c0).await == 200 && me_status(r, &c1).await == 200
        })
        .await;
    }
    // Sign-out on B ends the session on A and C too.
    rs[1].running.gate.sessions.end(&t0).await;
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
            r.running.gate.sessions.lookup(&t1).is_none() && me_status(r, &c1).await == 401
        })
        .await;
        assert_eq!(me(r, &c1).await, (401, "unauthenticated".to_owned()));
    }
}
