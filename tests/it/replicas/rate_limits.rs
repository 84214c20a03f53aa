//! Rate limits on replicas sharing PostgreSQL: with `rate_limits.replicas: 2` each of
//! two replica processes keeps half of every limit, so the cluster never admits more
//! than the limit however a caller's requests are spread, and admits the whole limit
//! when they are spread evenly. The documented tolerance's other end: a caller whose
//! requests all reach one replica gets that replica's half.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::env::{eventually, store_yaml, Proxying, TestDb};
use super::procs::{give_token, start_together};
use crate::support::GROUP_SCHEMA;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_together_admit_no_more_than_the_limit() {
    let db = TestDb::create().await;
    let p = Proxying::start().await;
    let policy = format!(
        "routes:\n  - name: app\n    match: {{ host: app.test }}\n    upstream: {}\n    allow:\n      - {{ groups: [readers] }}\n    rate_limit:\n      per_user: {{ rate: 10/h, burst: 10 }}\n",
        p.up.url()
    );
    let yaml = format!(
        "{}{}rate_limits:\n  replicas: 2\n",
        p.iss.config(),
        store_yaml(&db.url(), 10.0)
    );
    let mut rs = start_together(2, &yaml, &[("app.yaml", &policy)]).await;
    give_token(&mut rs, &db.token("idp").await);
    let (a, b) = (&rs[0], &rs[1]);
    let mut ids = Vec::new();
    for name in ["spread", "single"] {
        ids.push(a.create_user(name).await.expect(201).id());
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
    eventually(Duration::from_secs(5), "B serves the group", || async {
        b.scim(Method::GET, &format!("/Groups/{group}"), None)
            .await
            .status
            == 200
    })
    .await;

    // Spread evenly, at four times the limit: the whole limit, no more.
    let mut admitted = [0, 0];
    for i in 0..40 {
        let r = &rs[i % 2];
        match r.proxied(&p.iss, "app.test", "/x", "spread").await {
            200 => admitted[i % 2] += 1,
            429 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(admitted, [5, 5], "each replica keeps half of the 10");

    // All on one replica: that replica's half.
    let mut ok = 0;
    for _ in 0..20 {
        if a.proxied(&p.iss, "app.test", "/x", "single").await == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(p.up.paths().len(), 15, "what reached the upstream");
}
