//! The database goes away: a private cluster is stopped and started under load. Writes
//! during the outage fail promptly with a SCIM 503; replicas reconnect and catch up;
//! nothing acknowledged is lost; routes that demand fresh state fail closed after the
//! bound and recover.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use reqwest::Method;
use serde_json::json;

use super::env::{eventually, store_yaml, Cluster, Proxying, Replica, TestDb};
use crate::support::GROUP_SCHEMA;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_load_loses_no_acknowledged_write() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let db = TestDb::create_on(&cluster.server_url()).await;
    let token = db.token("idp").await;
    let yaml = store_yaml(&db.url(), 30.0);
    let a = Arc::new(Replica::start(&yaml, &token, &[]).await);
    let b = Arc::new(Replica::start(&yaml, &token, &[]).await);
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let outage_errors: Arc<Mutex<Vec<(u16, Duration, String)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(k, r)| {
            let (acked, errors, stop) = (acked.clone(), outage_errors.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let name = format!("load-{k}-{i}");
                    i += 1;
                    let t0 = Instant::now();
                    let resp = r.create_user(&name).await;
                    match resp.status {
                        201 => {
                            acked.lock().insert(resp.id());
                        }
                        _ => {
                            errors
                                .lock()
                                .push((resp.status, t0.elapsed(), resp.text.clone()));
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = acked.lock().len();
    assert!(before > 0, "writes flowed before the outage");
    tokio::task::block_in_place(|| cluster.down());
    tokio::time::sleep(Duration::from_secs(2)).await;
    // During the outage: prompt 503s in the SCIM error shape.
    let t0 = Instant::now();
    let resp = a.create_user("during-outage").await;
    let took = t0.elapsed();
    resp.expect_error(503, None);
    assert!(took < Duration::from_secs(6), "a write hung for {took:?}");
    tokio::task::block_in_place(|| cluster.up());
    // Writes succeed again on both replicas.
    for r in [&a, &b] {
        eventually(Duration::from_secs(30), "writes recover", || async {
            r.create_user(&format!("after-{}", uuid::Uuid::new_v4()))
                .await
                .status
                == 201
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let errors = outage_errors.lock().clone();
    assert!(!errors.is_empty(), "some writes met the outage");
    for (status, took, text) in &errors {
        assert_eq!(*status, 503, "a write during the outage: {text}");
        assert!(*took < Duration::from_secs(6), "a write hung for {took:?}");
    }
    // Every acknowledged write is in the database and on both replicas.
    let acked = acked.lock().clone();
    let store = db.store().await;
    let snap = tokio::task::spawn_blocking(move || scimgate::store::Store::load(&store))
        .await
        .unwrap()
        .unwrap();
    let stored: BTreeSet<String> = snap.users.iter().map(|u| u.id.to_string()).collect();
    assert!(acked.is_subset(&stored), "an acknowledged write was lost");
    for r in [&a, &b] {
        eventually(Duration::from_secs(10), "replicas caught up", || async {
            acked
                .iter()
                .all(|id| r.running.directory.user_by_id(id).is_some())
                && r.running.directory.user_count() == stored.len()
        })
        .await;
    }
    eprintln!(
        "{} writes acknowledged ({before} before the outage), {} refused during it",
        acked.len(),
        errors.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_cut_off_longer_than_the_bound_fails_closed_and_recovers() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let db = TestDb::create_on(&cluster.server_url()).await;
    let token = db.token("idp").await;
    let p = Proxying::start().await;
    let fresh_policy = format!(
        "routes:\n  - name: fresh\n    match: {{ host: fresh.test, path: /** }}\n    upstream: {}\n    require_fresh_directory: true\n    allow:\n      - {{ groups: [readers] }}\n",
        p.up.url()
    );
    let yaml = format!("{}{}", p.iss.config(), store_yaml(&db.url(), 1.0));
    let r = Replica::start(
        &yaml,
        &token,
        &[("app.yaml", &p.policy), ("fresh.yaml", &fresh_policy)],
    )
    .await;
    let id = r.create_user("fay").await.expect(201).id();
    r.scim(
        Method::POST,
        "/Groups",
        Some(&json!({"schemas": [GROUP_SCHEMA], "displayName": "readers", "members": [{"value": id}]})),
    )
    .await
    .expect(201);
    let ready = || async {
        reqwest::get(format!("{}/readyz", r.root()))
            .await
            .map(|x| x.status().as_u16())
            .unwrap_or(0)
    };
    assert_eq!(r.proxied(&p.iss, "fresh.test", "/x", "fay").await, 200);
    assert_eq!(ready().await, 200);
    let cut = Instant::now();
    tokio::task::block_in_place(|| cluster.down());
    // Within the bound it keeps serving...
    assert_eq!(r.proxied(&p.iss, "fresh.test", "/x", "fay").await, 200);
    // ...past it (counted from the last catch-up, at most a poll interval of a quarter
    // bound before the cut), the fresh route and /readyz refuse.
    let took = eventually(Duration::from_secs(6), "fails closed", || async {
        r.proxied(&p.iss, "fresh.test", "/x", "fay").await == 503 && ready().await == 503
    })
    .await;
    // Not before the bound: the last catch-up is longer ago than the bound, and the
    // cut itself at least half the bound ago (the last catch-up may precede the cut by
    // a poll interval, more on a loaded machine).
    let status = r.running.directory.freshness().status();
    assert!(!status.fresh);
    // ...and the metrics say so.
    let metrics = || async {
        let ops = r.running.ops_addr.expect("an ops listener");
        reqwest::get(format!("http://{ops}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let scraped = metrics().await;
    assert!(
        scraped.lines().any(|l| l == "scimgate_directory_fresh 0"),
        "{scraped}"
    );
    assert!(
        status.since_catch_up.unwrap() > Duration::from_secs(1),
        "{status:?}"
    );
    assert!(
        cut.elapsed() >= Duration::from_millis(500),
        "failed closed {took:?} after the cut, before the bound"
    );
    // A route that does not demand fresh state still serves.
    assert_eq!(r.proxied(&p.iss, "app.test", "/public/a", "fay").await, 200);
    tokio::task::block_in_place(|| cluster.up());
    eventually(Duration::from_secs(30), "recovers", || async {
        r.proxied(&p.iss, "fresh.test", "/x", "fay").await == 200 && ready().await == 200
    })
    .await;
    let scraped = metrics().await;
    assert!(
        scraped.lines().any(|l| l == "scimgate_directory_fresh 1"),
        "{scraped}"
    );
}
