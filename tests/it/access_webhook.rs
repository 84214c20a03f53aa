//! The access-request webhook wired into a running server: a request made from `/me`
//! and approved on the approvers' page reaches a receiver on loopback as
//! `requested`, `approved` and `started`, in order, each Slack-compatible with the
//! structured event; a receiver that fails the first attempts is tried again.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use parking_lot::Mutex;
use serde_json::Value;

use crate::pages::Browser;
use crate::support;

/// What the receiver heard; it answers 503 to the first `fail_first` POSTs.
#[derive(Default)]
struct Heard {
    bodies: Mutex<Vec<Value>>,
    fail_first: Mutex<usize>,
}

async fn hook(State(h): State<Arc<Heard>>, body: axum::body::Bytes) -> StatusCode {
    {
        let mut fail = h.fail_first.lock();
        if *fail > 0 {
            *fail -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    h.bodies
        .lock()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    StatusCode::OK
}

async fn receiver(fail_first: usize) -> (String, Arc<Heard>) {
    let heard = Arc::new(Heard::default());
    *heard.fail_first.lock() = fail_first;
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(heard.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), heard)
}

const POLICY: &str = "routes:
  - name: docs
    match: { path: /docs/** }
    upstream: http://127.0.0.1:9
    allow:
      - { groups: [docs-readers], methods: [GET] }
    requests:
      - group: docs-readers
        requesters: [contractors]
        approvers: [docs-approvers]
        max_duration: 1h
";

#[tokio::test]
async fn each_step_reaches_the_webhook_retried_until_accepted() {
    let (url, heard) = receiver(2).await;
    let config = format!(
        "admin: {{ groups: [scimgate-admins], allow_shared_origin: true }}\n\
         access_requests:\n  public_url: https://gate.example\n  webhook: {{ url: \"{url}\", retry_initial_ms: 10, retry_max_ms: 50 }}\n"
    );
    let g = support::start_with_policies(&config, &[("p.yaml", POLICY)]).await;
    let ana = support::str_of(&g.create_user("ana").await["id"]).to_owned();
    let bo = support::str_of(&g.create_user("bo").await["id"]).to_owned();
    g.create_group("docs-readers", &[]).await;
    g.create_group("contractors", &[&ana]).await;
    g.create_group("docs-approvers", &[&bo]).await;
    let (ana, bo) = (
        Browser::signed_in(&g, &ana).await,
        Browser::signed_in(&g, &bo).await,
    );
    let own = g.root();

    let csrf = ana.csrf("/.scimgate/me").await;
    let r = ana
        .post(
            "/.scimgate/me/access-requests",
            &[
                ("csrf", &csrf),
                ("route", "docs"),
                ("group", "docs-readers"),
                ("reason", "the <!channel> guide"),
                ("duration", "1800"),
            ],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), 303);
    let page = bo.get("/.scimgate/admin/access-requests").await.2;
    let at = page.find("<tr class=\"request\" data-id=\"").unwrap() + 29;
    let id = page[at..at + page[at..].find('"').unwrap()].to_owned();
    let csrf = bo.csrf("/.scimgate/admin/access-requests").await;
    let r = bo
        .post(
            &format!("/.scimgate/admin/access-requests/{id}/approve"),
            &[("csrf", &csrf), ("comment", "ok")],
            Some(&own),
        )
        .await;
    assert_eq!(r.status(), 303);

    support::eventually(Duration::from_secs(10), "three events delivered", || {
        let n = heard.bodies.lock().len();
        async move { n >= 3 }
    })
    .await;
    let bodies = heard.bodies.lock().clone();
    let kinds: Vec<&str> = bodies
        .iter()
        .map(|b| b["scimgate"]["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["requested", "approved", "started"]);
    assert_eq!(*heard.fail_first.lock(), 0, "the failed attempts were made");
    let requested = &bodies[0];
    assert_eq!(
        requested["text"],
        "ana requested docs-readers on docs for 30m: the &lt;!channel&gt; guide — approve at <https://gate.example/.scimgate/admin/access-requests>"
    );
    assert_eq!(requested["blocks"][0]["type"], "section");
    let s = &requested["scimgate"];
    assert_eq!(s["request_id"], id.as_str());
    assert_eq!(s["reason"], "the <!channel> guide");
    assert_eq!(s["duration_seconds"], 1800);
    let approved = &bodies[1]["scimgate"];
    assert_eq!(approved["approver"], "bo");
    assert_eq!(approved["comment"], "ok");
    assert!(bodies[2]["scimgate"]["ends_at"].is_string());
}
