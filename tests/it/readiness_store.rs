//! `/readyz` and the store: a server on PostgreSQL answers 503 with a `store` line
//! while its database server is down, on the main and the operations listener, and
//! `ready` again once the database is back, with no restart.

use std::time::Duration;

use crate::proxy_env::standard_policy;
use crate::replicas::env::{store_yaml, Cluster, Replica, TestDb};
use crate::support::eventually;

/// `/readyz` on `base`: status and body.
async fn readyz(base: &str) -> (u16, String) {
    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_fails_while_the_database_is_down_and_recovers_when_it_is_back() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let db = TestDb::create_on(&cluster.server_url()).await;
    let token = db.token("idp").await;
    // A staleness bound far longer than the test: only the store condition is at stake.
    let yaml = store_yaml(&db.url(), 3600.0);
    let policy = standard_policy("http://127.0.0.1:9");
    let r = Replica::start(&yaml, &token, &[("app.yaml", &policy)]).await;
    let ops = format!("http://{}", r.running.ops_addr.expect("an ops listener"));
    for base in [r.root(), ops.clone()] {
        assert_eq!(readyz(&base).await, (200, "ready\n".to_owned()));
    }

    tokio::task::block_in_place(|| cluster.down());
    eventually(Duration::from_secs(20), "not ready", || async {
        readyz(&ops).await.0 == 503
    })
    .await;
    for base in [r.root(), ops.clone()] {
        let (status, body) = readyz(&base).await;
        assert_eq!(status, 503, "{body}");
        let lines: Vec<&str> = body.lines().collect();
        assert_eq!(lines.len(), 2, "{body}");
        assert_eq!(lines[0], "not ready");
        assert!(
            lines[1].starts_with("store: the store does not answer: "),
            "{body}"
        );
        assert!(!body.contains(&db.url()), "no connection URL in {body}");
    }
    // Liveness is not readiness: the process is fine.
    let h = reqwest::get(format!("{ops}/healthz")).await.unwrap();
    assert_eq!(h.status(), 200);

    tokio::task::block_in_place(|| cluster.up());
    eventually(Duration::from_secs(30), "ready again", || async {
        readyz(&ops).await.0 == 200
    })
    .await;
    for base in [r.root(), ops] {
        assert_eq!(readyz(&base).await, (200, "ready\n".to_owned()));
    }
    // And the store serves again.
    r.create_user("after-the-outage").await.expect(201);
}
