//! A replica killed with SIGKILL under SCIM load: every write it acknowledged is in
//! the shared database and on the surviving replica, and it catches up on restart.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::json;

use super::env::{eventually, store_yaml, TestDb};
use crate::support::{send, with_json, USER_SCHEMA};

/// A `scimgate serve` process.
struct Proc {
    child: Child,
    root: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(config: &Path, data: &Path) -> Proc {
    let port = free_port();
    let policies = data.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(data)
        .arg("--policies")
        .arg(&policies)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start scimgate serve");
    let root = format!("http://127.0.0.1:{port}");
    let health = format!("{root}/healthz");
    eventually(Duration::from_secs(20), "the replica starts", || async {
        reqwest::get(&health).await.is_ok_and(|r| r.status() == 200)
    })
    .await;
    Proc { child, root }
}

/// Creates a user; its id once acknowledged (201 with a body), else `None`.
async fn create(http: &reqwest::Client, root: &str, token: &str, name: &str) -> Option<String> {
    let body = json!({"schemas": [USER_SCHEMA], "userName": name, "active": true});
    let r = with_json(
        http.post(format!("{root}/scim/v2/Users"))
            .bearer_auth(token)
            .timeout(Duration::from_secs(5)),
        &body,
    )
    .send()
    .await
    .ok()?;
    if r.status() != 201 {
        return None;
    }
    let v: serde_json::Value = r.json().await.ok()?;
    v["id"].as_str().map(str::to_owned)
}

async fn user_exists(root: &str, token: &str, id: &str) -> bool {
    let r = send(
        reqwest::Client::new()
            .get(format!("{root}/scim/v2/Users/{id}"))
            .bearer_auth(token),
    )
    .await;
    r.status == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_under_load_loses_no_acknowledged_write_and_catches_up() {
    let db = TestDb::create().await;
    let token = db.token("idp").await;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("scimgate.yaml");
    std::fs::write(&config, store_yaml(&db.url(), 10.0)).unwrap();
    let (data_a, data_b) = (tmp.path().join("a"), tmp.path().join("b"));
    let mut a = serve(&config, &data_a).await;
    let b = serve(&config, &data_b).await;
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    // Four writers: two on A (which will die), two on B.
    let writers: Vec<_> = (0..4)
        .map(|k| {
            let root = if k % 2 == 0 {
                a.root.clone()
            } else {
                b.root.clone()
            };
            let (token, acked) = (token.clone(), acked.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                for i in 0..150 {
                    if let Some(id) = create(&http, &root, &token, &format!("w{k}-{i}")).await {
                        acked.lock().insert(id);
                    }
                }
            })
        })
        .collect();
    eventually(Duration::from_secs(20), "load is flowing", || async {
        acked.lock().len() >= 40
    })
    .await;
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().clone();
    // Everything acknowledged, by either replica, is on the survivor...
    for id in &acked {
        assert!(
            user_exists(&b.root, &token, id).await,
            "lost acknowledged user {id}"
        );
    }
    // ...and on the killed replica once it is back, with what B wrote meanwhile.
    let late = create(&reqwest::Client::new(), &b.root, &token, "after-the-crash")
        .await
        .expect("B still writes");
    let a2 = serve(&config, &data_a).await;
    for id in acked.iter().chain(std::iter::once(&late)) {
        assert!(
            user_exists(&a2.root, &token, id).await,
            "restarted A misses {id}"
        );
    }
    // And it follows again: a write on B shows up on A.
    let next = create(&reqwest::Client::new(), &b.root, &token, "followed")
        .await
        .unwrap();
    eventually(
        Duration::from_secs(5),
        "A follows B after restart",
        || async { user_exists(&a2.root, &token, &next).await },
    )
    .await;
    eprintln!("{} writes acknowledged around the crash", acked.len());
}
