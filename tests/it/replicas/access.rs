//! Just-in-time access across replica processes on one database: a request made on
//! A is voted on from A and B, the grant started by B's vote allows on A; an open
//! download on B is cut when A revokes it; a grant's end is in force on both, and only
//! one replica records it. A grant on PostgreSQL survives a restart and still ends on
//! time (an in-process replica stopped and another started on the database).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::env::{eventually, store_yaml, Api, Replica, TestDb};
use super::procs::{give_token, start_together};
use crate::issuer::Issuer;
use crate::jit_access::jit_policy;
use crate::revocation::drain;
use crate::support::{send, Resp, GROUP_SCHEMA};
use crate::upstream;
use scimgate::store::Store;

const GUARD: Duration = Duration::from_secs(30);

/// A call of `r`'s access requests API as `user`.
async fn api(
    r: &Api,
    iss: &Issuer,
    method: Method,
    path: &str,
    user: &str,
    body: Option<Value>,
) -> Resp {
    let mut req = r
        .http
        .request(
            method,
            format!("{}/.scimgate/api/access-requests{path}", r.base),
        )
        .bearer_auth(iss.token(user));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    send(req).await
}

async fn group(r: &Api, name: &str, members: &[&str]) {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    r.scim(
        Method::POST,
        "/Groups",
        Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": name, "members": members})),
    )
    .await
    .expect(201);
}

async fn state(r: &Api, iss: &Issuer, id: &str) -> String {
    let resp = api(r, iss, Method::GET, &format!("/{id}"), "lee", None).await;
    resp.body["state"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_start_and_end_on_every_replica() {
    let db = TestDb::create().await;
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let policy = jit_policy(&up.url());
    let yaml = format!("{}{}", iss.config(), store_yaml(&db.url(), 10.0));
    let mut rs = start_together(2, &yaml, &[("app.yaml", &policy)]).await;
    give_token(&mut rs, &db.token("idp").await);
    let (a, b) = (&rs[0].api, &rs[1].api);
    let mut ids = Vec::new();
    for name in ["ann", "lee", "lou"] {
        ids.push(a.create_user(name).await.expect(201).id());
    }
    group(a, "engineers", &[&ids[0]]).await;
    group(a, "leads", &[&ids[1], &ids[2]]).await;
    group(a, "oncall", &[]).await;
    group(a, "auditors", &[]).await;
    for r in [a, b] {
        eventually(GUARD, "every replica knows the people", || async {
            r.scim(
                Method::GET,
                "/Groups?filter=displayName%20eq%20%22auditors%22",
                None,
            )
            .await
            .body["totalResults"]
                == 1
        })
        .await;
    }
    // Asked on A, approved once on A and once on B: the grant allows on A.
    let asked = api(
        a,
        &iss,
        Method::POST,
        "",
        "ann",
        Some(json!({"route": "app", "group": "oncall", "duration": "1h", "reason": "INC-7"})),
    )
    .await;
    assert_eq!(asked.status, 201, "{}", asked.text);
    let id = asked.body["id"].as_str().unwrap().to_owned();
    let first = api(
        a,
        &iss,
        Method::POST,
        &format!("/{id}/approve"),
        "lee",
        None,
    )
    .await;
    assert_eq!(first.body["state"], "pending", "{}", first.text);
    eventually(GUARD, "B knows the request and its first vote", || async {
        let r = api(b, &iss, Method::GET, &format!("/{id}"), "lou", None).await;
        r.body["approvals"].as_array().is_some_and(|v| v.len() == 1)
    })
    .await;
    let second = api(
        b,
        &iss,
        Method::POST,
        &format!("/{id}/approve"),
        "lou",
        None,
    )
    .await;
    assert_eq!(second.body["state"], "active", "{}", second.text);
    assert_eq!(b.proxied(&iss, "app.test", "/public/a", "ann").await, 200);
    eventually(GUARD, "the grant allows on A", || async {
        a.proxied(&iss, "app.test", "/public/a", "ann").await == 200
    })
    .await;
    // A download open on B is cut when A revokes the grant.
    let mut download = b
        .http
        .get(format!("{}/public/slow", b.base))
        .header("host", "app.test")
        .bearer_auth(iss.token("ann"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert!(download.chunk().await.unwrap().is_some());
    let revoked = api(a, &iss, Method::POST, &format!("/{id}/revoke"), "lee", None).await;
    assert_eq!(revoked.body["state"], "revoked", "{}", revoked.text);
    assert_eq!(a.proxied(&iss, "app.test", "/public/a", "ann").await, 403);
    let cut = tokio::time::timeout(GUARD, drain(download))
        .await
        .expect("the download on B was not cut");
    assert!(cut);
    assert_eq!(b.proxied(&iss, "app.test", "/public/a", "ann").await, 403);
    // A short grant, started on B, ends on both; one replica records the end.
    let asked = api(
        b,
        &iss,
        Method::POST,
        "",
        "ann",
        Some(json!({"route": "app", "group": "oncall", "duration": "3s", "reason": "INC-8"})),
    )
    .await;
    assert_eq!(asked.status, 201, "{}", asked.text);
    let id = asked.body["id"].as_str().unwrap().to_owned();
    for approver in ["lee", "lou"] {
        let r = api(
            b,
            &iss,
            Method::POST,
            &format!("/{id}/approve"),
            approver,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    eventually(GUARD, "the grant allows on A", || async {
        a.proxied(&iss, "app.test", "/public/a", "ann").await == 200
    })
    .await;
    for r in [a, b] {
        eventually(GUARD, "the grant ended on every replica", || async {
            r.proxied(&iss, "app.test", "/public/a", "ann").await == 403
                && state(r, &iss, &id).await == "expired"
        })
        .await;
    }
    let store = db.store().await;
    let target = format!("access_request:{id}");
    let expiries = || {
        let q = scimgate::record::AuditQuery {
            action_prefix: Some("grant.expire".into()),
            ..Default::default()
        };
        let rows = tokio::task::block_in_place(|| store.audit_query(&q).unwrap());
        rows.iter().filter(|r| r.entry.target == target).count()
    };
    eventually(GUARD, "the end is on the audit chain", || {
        let n = expiries();
        async move { n >= 1 }
    })
    .await;
    // Given time for a second record to appear, there is still one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(expiries(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_on_postgresql_survives_a_restart_and_still_ends_on_time() {
    let db = TestDb::create().await;
    let up = upstream::start().await;
    let iss = Issuer::start().await;
    let policy = jit_policy(&up.url());
    let yaml = format!("{}{}", iss.config(), store_yaml(&db.url(), 10.0));
    let token = db.token("idp").await;
    let first = Replica::start(&yaml, &token, &[("app.yaml", &policy)]).await;
    let mut ids = Vec::new();
    for name in ["ann", "lee", "lou"] {
        ids.push(first.create_user(name).await.expect(201).id());
    }
    group(&first, "engineers", &[&ids[0]]).await;
    group(&first, "leads", &[&ids[1], &ids[2]]).await;
    group(&first, "oncall", &[]).await;
    let asked = api(
        &first,
        &iss,
        Method::POST,
        "",
        "ann",
        Some(json!({"route": "app", "group": "oncall", "duration": "5s", "reason": "INC-9"})),
    )
    .await;
    let id = asked.body["id"].as_str().unwrap().to_owned();
    for approver in ["lee", "lou"] {
        let r = api(
            &first,
            &iss,
            Method::POST,
            &format!("/{id}/approve"),
            approver,
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(
        first.proxied(&iss, "app.test", "/public/a", "ann").await,
        200
    );
    first.running.stop().await;
    let again = Replica::start(&yaml, &token, &[("app.yaml", &policy)]).await;
    assert_eq!(
        again.proxied(&iss, "app.test", "/public/a", "ann").await,
        200
    );
    assert_eq!(state(&again, &iss, &id).await, "active");
    eventually(GUARD, "the grant ended after the restart", || async {
        again.proxied(&iss, "app.test", "/public/a", "ann").await == 403
            && state(&again, &iss, &id).await == "expired"
    })
    .await;
}
