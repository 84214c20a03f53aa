//! Instant revocation through the proxy: a SCIM deactivation, deletion or group removal
//! is in force for the very next request, and open downloads and websockets of users
//! who lost access are closed. (How fast is measured by `bench/`, not asserted here.)

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::proxy_env::{reader, Env};

async fn status(env: &Env, user: &str, path: &str) -> u16 {
    env.get("app.test", path, Some(user))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn deactivation_denies_the_very_next_request() {
    let env = Env::start("").await;
    for i in 0..20 {
        let name = format!("user{i}");
        let (id, _) = reader(&env, &name).await;
        assert_eq!(status(&env, &name, "/public/a").await, 200);
        env.deactivate(&id).await;
        assert_eq!(status(&env, &name, "/public/a").await, 403, "trial {i}");
    }
}

#[tokio::test]
async fn deletion_denies_the_very_next_request() {
    let env = Env::start("").await;
    let (id, _) = reader(&env, "dora").await;
    assert_eq!(status(&env, "dora", "/public/a").await, 200);
    env.gate.delete(&format!("/Users/{id}")).await.expect(204);
    assert_eq!(status(&env, "dora", "/public/a").await, 403);
}

#[tokio::test]
async fn group_removal_denies_the_very_next_request() {
    let env = Env::start("").await;
    for i in 0..20 {
        let name = format!("member{i}");
        let (id, gid) = reader(&env, &name).await;
        assert_eq!(status(&env, &name, "/public/a").await, 200);
        env.remove_member(&gid, &id).await;
        assert_eq!(status(&env, &name, "/public/a").await, 403, "trial {i}");
    }
}

#[tokio::test]
async fn removal_from_a_nested_parent_group_denies_the_next_request() {
    let env = Env::start("").await;
    let id = env.user("nina").await;
    let team = env.group("team-nina", &[&id]).await;
    let readers = env.group("readers", &[&team]).await;
    assert_eq!(status(&env, "nina", "/public/a").await, 200);
    env.remove_member(&readers, &team).await;
    assert_eq!(status(&env, "nina", "/public/a").await, 403);
}

/// Reads the download until it ends; returns whether it ended with an error (cut).
pub async fn drain(mut resp: reqwest::Response) -> bool {
    loop {
        match resp.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => return false,
            Err(_) => return true,
        }
    }
}

#[tokio::test]
async fn an_open_download_is_cut_on_deactivation() {
    let env = Env::start("").await;
    let (id, _) = reader(&env, "erin").await;
    let mut resp = env
        .get("app.test", "/public/slow", Some("erin"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.chunk().await.unwrap().is_some(), "stream flows");
    assert_eq!(env.gate.running.registry.len(), 1);
    let reader_task = tokio::spawn(drain(resp));
    let t0 = Instant::now();
    env.deactivate(&id).await;
    let cut = tokio::time::timeout(Duration::from_secs(5), reader_task)
        .await
        .expect("the download was not cut")
        .unwrap();
    assert!(cut, "the download ended with an error, not a clean end");
    eprintln!(
        "download cut {} ms after the SCIM request was sent",
        t0.elapsed().as_millis()
    );
}

#[tokio::test]
async fn an_open_download_on_an_unaffected_route_keeps_flowing() {
    let env = Env::start("").await;
    let (id, _) = reader(&env, "fred").await;
    let admin = env.user("root").await;
    env.group("admins", &[&admin]).await;
    let mut resp = env
        .get("app.test", "/public/slow", Some("root"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    env.deactivate(&id).await;
    // root's stream is judged again and still allowed: it keeps flowing.
    for _ in 0..5 {
        assert!(resp.chunk().await.unwrap().is_some());
    }
}

/// A websocket upgrade to `/public/ws` on `app.test` with a bearer token for `user`.
fn ws_request(env: &Env, user: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = format!("ws://{}/public/ws", env.addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("host", "app.test".parse().unwrap());
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", env.iss.token(user)).parse().unwrap(),
    );
    req
}

#[tokio::test]
async fn an_open_websocket_is_closed_on_group_removal() {
    let env = Env::start("").await;
    let (id, gid) = reader(&env, "gina").await;
    let (mut ws, resp) = tokio_tungstenite::connect_async(ws_request(&env, "gina"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("ping")).await.unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "ping");

    let t0 = Instant::now();
    env.remove_member(&gid, &id).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the websocket stayed open");
    eprintln!(
        "websocket closed {} ms after the SCIM request was sent",
        t0.elapsed().as_millis()
    );
    // And a new upgrade is refused.
    assert!(tokio_tungstenite::connect_async(ws_request(&env, "gina"))
        .await
        .is_err());
}

#[tokio::test]
async fn a_policy_reload_that_removes_access_cuts_open_streams() {
    let env = Env::start("").await;
    reader(&env, "hana").await;
    let resp = env
        .get("app.test", "/public/slow", Some("hana"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let reader_task = tokio::spawn(drain(resp));
    // Readers lose /public: only admins remain.
    let policy = format!(
        "routes:\n  - name: app\n    match: {{ host: app.test }}\n    upstream: {}\n    allow:\n      - {{ groups: [admins] }}\n",
        env.up.url()
    );
    std::fs::write(env.gate.dir.path().join("policies/app.yaml"), policy).unwrap();
    let cut = tokio::time::timeout(Duration::from_secs(10), reader_task)
        .await
        .expect("the stream was not cut after the reload")
        .unwrap();
    assert!(cut);
    assert_eq!(status(&env, "hana", "/public/a").await, 403);
}
