//! The database goes away: a private cluster is stopped and started under load. Writes
//! during the outage are refused with a SCIM 503 (not left hanging); replicas reconnect
//! and catch up; nothing acknowledged is lost; routes that demand fresh state fail
//! closed after the bound and recover. How long a refused write takes is not asserted
//! here (no benchmark measures it yet); the statement timeout bounds it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use reqwest::Method;
use serde_json::json;

use super::env::{eventually, store_yaml, Cluster, Proxying, Replica, TestDb};
use crate::support::GROUP_SCHEMA;

/// How long a step may take before the test fails (a guard against hanging, not a
/// latency target).
const GUARD: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_load_loses_no_acknowledged_write() {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    let db = TestDb::create_on(&cluster.server_url()).await;
    let token = db.token("idp").await;
    let yaml = store_yaml(&db.url(), 30.0);
    let a = Arc::new(Replica::start(&yaml, &token, &[]).await);
    let b = Arc::new(Replica::start(&yaml, &token, &[]).await);
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let outage_errors: Arc<Mutex<Vec<(u16, String)>>> = Arc::default();
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
                    let resp = r.create_user(&name).await;
                    match resp.status {
                        201 => {
                            acked.lock().insert(resp.id());
                        }
                        _ => {
                            errors.lock().push((resp.status, resp.text.clone()));
                            // Pace the retries of a refused writer (load shaping only).
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            })
        })
        .collect();
    eventually(GUARD, "writes flow before the outage", || async {
        !acked.lock().is_empty()
    })
    .await;
    let before = acked.lock().len();
    tokio::task::block_in_place(|| cluster.down());
    eventually(GUARD, "the load meets the outage", || async {
        !outage_errors.lock().is_empty()
    })
    .await;
    // During the outage: 503s in the SCIM error shape.
    let resp = tokio::time::timeout(GUARD, a.create_user("during-outage"))
        .await
        .expect("a write during the outage was left hanging");
    resp.expect_error(503, None);
    tokio::task::block_in_place(|| cluster.up());
    // Writes succeed again on both replicas.
    for r in [&a, &b] {
        eventually(GUARD, "writes recover", || async {
            r.create_user(&format!("after-{}", uuid::Uuid::new_v4()))
                .await
                .status
                == 201
        })
        .await;
    }
    // The load's own writers are acknowledged again too.
    let recovered = acked.lock().len();
    eventually(GUARD, "the load flows again", || async {
        acked.lock().len() > recovered
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let errors = outage_errors.lock().clone();
    assert!(!errors.is_empty(), "some writes met the outage");
    for (status, text) in &errors {
        assert_eq!(*status, 503, "a write during the outage: {text}");
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
        eventually(GUARD, "replicas caught up", || async {
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
    // A bound long enough that the request right after the cut is surely within it.
    let bound = Duration::from_secs(3);
    let yaml = format!(
        "{}{}",
        p.iss.config(),
        store_yaml(&db.url(), bound.as_secs_f64())
    );
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
    tokio::task::block_in_place(|| cluster.down());
    // Within the bound it keeps serving...
    assert_eq!(r.proxied(&p.iss, "fresh.test", "/x", "fay").await, 200);
    // ...past it (counted from the last catch-up), the fresh route and /readyz refuse.
    eventually(GUARD, "fails closed", || async {
        r.proxied(&p.iss, "fresh.test", "/x", "fay").await == 503 && ready().await == 503
    })
    .await;
    // Not before the bound: the last catch-up is longer ago than the bound (the
    // boundary itself is the unit test of `Freshness`, on a paused clock).
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
    assert!(status.since_catch_up.unwrap() > bound, "{status:?}");
    assert_eq!(status.bound, Some(bound));
    // A route that does not demand fresh state still serves.
    assert_eq!(r.proxied(&p.iss, "app.test", "/public/a", "fay").await, 200);
    tokio::task::block_in_place(|| cluster.up());
    eventually(GUARD, "recovers", || async {
        r.proxied(&p.iss, "fresh.test", "/x", "fay").await == 200 && ready().await == 200
    })
    .await;
    let scraped = metrics().await;
    assert!(
        scraped.lines().any(|l| l == "scimgate_directory_fresh 1"),
        "{scraped}"
    );
}
