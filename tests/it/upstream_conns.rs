//! The upstream connection bounds of `server:` through the real server and a counting
//! upstream: the process-wide cap (`max_upstream_connections`) holds requests beyond
//! it until a connection frees, or answers 503 once the route's connect timeout
//! passes; `upstream_idle_per_host` closes the connections a burst opened beyond it.
//!
//! Requests are held at the upstream (`/park`) until the test lets them go, so every
//! wait is on an event (a count reached, a status); the outer timeouts only keep a
//! failing run from hanging.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::proxy_env::{reader, Env};
use crate::upstream::Upstream;

/// Long enough that only a broken server reaches it.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Waits until `check` holds (polled on a short period, bounded by [`HANG_GUARD`]).
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A server with `server` written under `server:` and one route, `conns.test`, whose
/// connect timeout is `connect`.
async fn start(server: &str, connect: &str) -> Env {
    let up = crate::upstream::start().await;
    let iss = crate::issuer::Issuer::start().await;
    let policy = format!(
        r#"routes:
  - name: conns
    match: {{ host: conns.test, path: /** }}
    upstream: {}
    timeouts: {{ connect: {connect}, response: 60s }}
    allow:
      - {{ groups: [readers] }}
"#,
        up.url()
    );
    Env::start_with(up, iss, &format!("server:\n{server}"), Some(policy)).await
}

/// Sends `n` requests for `/park` at once; returns their handles (status, body).
fn park(env: &Env, n: usize) -> Vec<tokio::task::JoinHandle<(u16, String)>> {
    (0..n)
        .map(|_| {
            let request = env.get("conns.test", "/park", Some("ann"));
            tokio::spawn(async move {
                let r = request.send().await.unwrap();
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            })
        })
        .collect()
}

async fn answers(handles: Vec<tokio::task::JoinHandle<(u16, String)>>) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for h in handles {
        out.push(
            tokio::time::timeout(HANG_GUARD, h)
                .await
                .expect("a request hung")
                .unwrap(),
        );
    }
    out
}

fn open_at(up: &Upstream) -> usize {
    up.seen.open.load(Ordering::SeqCst)
}

#[tokio::test]
async fn requests_beyond_the_cap_wait_for_a_connection_and_never_open_more() {
    let env = start("  max_upstream_connections: 2\n", "30s").await;
    reader(&env, "ann").await;
    let upstream_conns = env.gate.running.metrics.upstream_connections.clone();
    let held = park(&env, 5);
    // Two reach the upstream; the other three wait for a place under the cap.
    until("two requests parked at the upstream", || {
        env.up.seen.parked.load(Ordering::SeqCst) == 2
    })
    .await;
    until("three connections waiting at the cap", || {
        upstream_conns.waited_count() >= 3
    })
    .await;
    assert_eq!(env.up.seen.connections.load(Ordering::SeqCst), 2);
    assert_eq!(upstream_conns.open_now(), 2);
    // Every request is let through as it arrives; the waiting ones ride the two
    // connections as they free.
    env.up.seen.unpark.0.add_permits(5);
    for (status, body) in answers(held).await {
        assert_eq!((status, body.as_str()), (200, "unparked"));
    }
    assert_eq!(env.up.seen.parked.load(Ordering::SeqCst), 5);
    assert_eq!(env.up.seen.connections.load(Ordering::SeqCst), 2);
    assert!(env.up.seen.peak_open.load(Ordering::SeqCst) <= 2);
    assert_eq!(upstream_conns.refused_count(), 0);
}

#[tokio::test]
async fn a_request_finding_no_place_by_the_connect_timeout_gets_503() {
    let env = start("  max_upstream_connections: 1\n", "200ms").await;
    reader(&env, "ann").await;
    let upstream_conns = env.gate.running.metrics.upstream_connections.clone();
    let held = park(&env, 1);
    until("one request parked at the upstream", || {
        env.up.seen.parked.load(Ordering::SeqCst) == 1
    })
    .await;
    let refused = env
        .get("conns.test", "/other", Some("ann"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "upstream_busy", "{body}");
    assert!(upstream_conns.refused_count() >= 1);
    let text = env.gate.running.metrics.render().unwrap();
    assert!(
        text.contains(r#"scimgate_upstream_errors_total{route="conns",kind="connection_cap"} 1"#),
        "{text}"
    );
    env.up.seen.unpark.0.add_permits(1);
    assert_eq!(answers(held).await[0].0, 200);
    assert_eq!(env.up.seen.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_burst_keeps_only_the_idle_bound_open_afterwards() {
    let env = start("  upstream_idle_per_host: 1\n", "30s").await;
    reader(&env, "ann").await;
    let held = park(&env, 4);
    until("four requests parked at the upstream", || {
        env.up.seen.parked.load(Ordering::SeqCst) == 4
    })
    .await;
    assert_eq!(open_at(&env.up), 4);
    env.up.seen.unpark.0.add_permits(4);
    for (status, _) in answers(held).await {
        assert_eq!(status, 200);
    }
    // Three of the four are closed as they come back to a pool that already holds one.
    until("one idle connection left open", || open_at(&env.up) == 1).await;
    // The one kept is reused.
    env.up.seen.unpark.0.add_permits(1);
    let again = answers(park(&env, 1)).await;
    assert_eq!(again[0].0, 200);
    assert_eq!(env.up.seen.connections.load(Ordering::SeqCst), 4);
    assert_eq!(open_at(&env.up), 1);
}
