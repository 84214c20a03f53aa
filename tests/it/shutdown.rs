//! Shutdown and reload, in-process (`server::spawn`, which `scimgate serve` runs too)
//! and through the binary with real signals: every background task ends, a request in
//! flight when shutdown begins is answered, nothing acknowledged is lost, and a reload
//! is what SIGHUP does.

use std::path::Path;
use std::time::{Duration, Instant};

use scimgate::store::{SqliteStore, Store};

use crate::audit::{chain, detail};
use crate::issuer::Issuer;
use crate::proxy_env::{reader, standard_policy, Env};
use crate::served::Served;
use crate::support;
use crate::upstream::{self, Upstream};

/// How long the slow upstream takes to answer.
const SLOW_MS: u64 = 1500;

/// Audit batches wait a minute: a decision is in the store before that only if the
/// shutdown writes what is queued.
const LATE_BATCHES: &str = "audit: { batch_interval_ms: 60000 }\n";

/// Waits until the upstream has seen a request whose target starts with `prefix`.
async fn seen(up: &Upstream, prefix: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !up.paths().iter().any(|p| p.starts_with(prefix)) {
        assert!(
            Instant::now() < deadline,
            "no {prefix} upstream: {:?}",
            up.paths()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The user names in the store of `data`.
fn stored_user_names(data: &Path) -> Vec<String> {
    let store = SqliteStore::open(&data.join("scimgate.db")).unwrap();
    let snapshot = store.load().unwrap();
    snapshot
        .users
        .iter()
        .map(|u| u.user_name.to_string())
        .collect()
}

/// Whether the chain of `data` holds an allowed request by `user` to a path starting
/// with `path`.
fn allowed_on_record(data: &Path, user: &str, path: &str) -> bool {
    chain(data).iter().any(|r| {
        r.entry.action == "access.allow"
            && r.entry.actor == format!("user:{user}")
            && detail(r)["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(path))
    })
}

#[tokio::test]
async fn stop_ends_every_background_task() {
    // Audit sinks and the retention task (on by default) are background tasks too.
    let sink = tempfile::tempdir().unwrap();
    let extra = format!(
        "audit: {{ sinks: {{ file: {{ path: {:?} }} }} }}\n",
        sink.path().join("audit.jsonl")
    );
    let env = Env::start(&extra).await;
    reader(&env, "ada").await;
    let live = env.gate.running.live_tasks();
    // At least: the listener, the session purger, the reload subscriber, the directory
    // writer, the audit worker, its tailer and the retention task.
    assert!(live.count() >= 7, "only {} live tasks", live.count());
    let Env { gate, .. } = env;
    let support::Gate { running, dir, .. } = gate;
    let addr = running.addr;
    tokio::time::timeout(Duration::from_secs(20), running.stop())
        .await
        .expect("stop returns: every task ended");
    assert_eq!(live.count(), 0, "tasks outlived the stop");
    // The listener is closed.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    drop(dir);
}

#[tokio::test]
async fn a_request_in_flight_drains_and_nothing_acknowledged_is_lost() {
    let env = Env::start(LATE_BATCHES).await;
    reader(&env, "bo").await;
    let path = format!("/public/delay?ms={SLOW_MS}");
    let slow = tokio::spawn(env.get("app.test", &path, Some("bo")).send());
    seen(&env.up, "/public/delay").await;
    // Acknowledged while the slow request is in flight.
    let late = env.gate.create_user("late-comer").await;

    let Env { gate, up, .. } = env;
    let started = Instant::now();
    let (answer, gate) = tokio::join!(slow, gate.restart());
    let answer = answer.unwrap().expect("the slow request is answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.text().await.unwrap(),
        format!("answered after {SLOW_MS} ms")
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the drain waited for nothing else: {:?}",
        started.elapsed()
    );

    // After the restart: the users written before shutdown, and the decision made
    // before it, are in the store.
    let id = late["id"].as_str().unwrap();
    gate.get(&format!("/Users/{id}")).await.expect(200);
    let names = stored_user_names(gate.dir.path());
    assert!(
        names.contains(&"bo".to_owned()) && names.contains(&"late-comer".to_owned()),
        "{names:?}"
    );
    assert!(
        allowed_on_record(gate.dir.path(), "bo", "/public/delay"),
        "no decision on record for the slow request"
    );
    drop(up);
}

#[tokio::test]
async fn reload_is_what_sighup_does() {
    let up = upstream::start().await;
    // No file watcher: only an explicit reload applies the files.
    let env = Env::start_with(up, Issuer::start().await, "reload:\n  watch: false\n", None).await;
    reader(&env, "cy").await;
    let status = |path: &'static str| {
        let r = env.get("app.test", path, Some("cy"));
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/private/a").await, 403);
    let file = env.gate.dir.path().join("policies").join("app.yaml");
    let open = format!(
        "routes:\n  - name: app\n    match: {{ host: app.test }}\n    upstream: {}\n    allow:\n      - {{ groups: [readers] }}\n",
        env.up.url()
    );
    std::fs::write(&file, open).unwrap();
    assert_eq!(status("/private/a").await, 403, "nothing reloads by itself");
    env.gate.running.reload().expect("the new set applies");
    assert_eq!(status("/private/a").await, 200);

    // A bad set is refused; the last good one stays in force.
    std::fs::write(
        &file,
        "routes:\n  - name: app\n    upstream: [not, a, url]\n",
    )
    .unwrap();
    assert!(env.gate.running.reload().is_err());
    assert_eq!(status("/private/a").await, 200);
    std::fs::write(&file, standard_policy(&env.up.url())).unwrap();
    env.gate.running.reload().unwrap();
    assert_eq!(status("/private/a").await, 403);
}

#[tokio::test]
async fn sigterm_drains_a_slow_request_and_the_binary_exits_with_nothing_lost() {
    let up = upstream::start().await;
    let mut served = Served::start(
        Issuer::start().await,
        &standard_policy(&up.url()),
        LATE_BATCHES,
    )
    .await;
    served.reader("dee").await;
    let data = served.policies.parent().unwrap().to_path_buf();
    let slow = tokio::spawn(
        served
            .request(
                reqwest::Method::GET,
                "app.test",
                &format!("/public/delay?ms={SLOW_MS}"),
                "dee",
            )
            .send(),
    );
    seen(&up, "/public/delay").await;
    let signalled = Instant::now();
    served.serve.terminate();
    let answer = slow.await.unwrap().expect("the slow request is answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.text().await.unwrap(),
        format!("answered after {SLOW_MS} ms")
    );
    let status = served.serve.exit().await;
    assert!(status.success(), "{status}: {}", served.serve.log_text());
    assert!(
        signalled.elapsed() < Duration::from_secs(10),
        "exited {:?} after SIGTERM",
        signalled.elapsed()
    );
    served.serve.wait_for("shutting down").await;
    served.serve.wait_for("connections drained").await;

    // The process is gone: what it acknowledged and decided is in its store.
    assert!(stored_user_names(&data).contains(&"dee".to_owned()));
    assert!(
        allowed_on_record(&data, "dee", "/public/delay"),
        "no decision on record for the slow request"
    );
}
