//! The webhook against a real HTTP receiver on loopback: retries until accepted, the
//! body's shape, give-ups, and a full queue's drops, each counted.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use parking_lot::Mutex;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::config::access_requests::{QueueFull, WebhookConfig};

/// What the receiver answers, in turn; past the script it answers 200.
struct Receiver {
    script: Mutex<Vec<(u16, Option<&'static str>)>>,
    /// Each request's body and `x-key` header, as it arrives.
    seen: mpsc::UnboundedSender<(serde_json::Value, Option<String>)>,
    /// Answers wait for a permit (tests hold the receiver busy with it).
    gate: Arc<Semaphore>,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let key = headers
        .get("x-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let _ = r.seen.send((value, key));
    let _permit = r.gate.acquire().await;
    let next = {
        let mut script = r.script.lock();
        if script.is_empty() {
            (200, None)
        } else {
            script.remove(0)
        }
    };
    let mut headers = HeaderMap::new();
    if let Some(after) = next.1 {
        headers.insert("retry-after", after.parse().unwrap());
    }
    (StatusCode::from_u16(next.0).unwrap(), headers, "")
}

/// A receiver on loopback answering `script`; its URL, what it sees, and its gate.
async fn receiver(
    script: Vec<(u16, Option<&'static str>)>,
    permits: usize,
) -> (
    String,
    mpsc::UnboundedReceiver<(serde_json::Value, Option<String>)>,
    Arc<Semaphore>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(permits));
    let state = Arc::new(Receiver {
        script: Mutex::new(script),
        seen: tx,
        gate: gate.clone(),
    });
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), rx, gate)
}

fn config(url: &str, capacity: usize, max_attempts: u32) -> WebhookConfig {
    let mut key = http::HeaderValue::from_static("s3cret");
    key.set_sensitive(true);
    WebhookConfig {
        url: url.to_owned(),
        headers: vec![(http::HeaderName::from_static("x-key"), key)],
        timeout: Duration::from_secs(5),
        max_attempts,
        retry_initial: Duration::from_millis(10),
        retry_max: Duration::from_millis(50),
        queue_capacity: capacity,
        on_queue_full: QueueFull::DropOldest,
    }
}

fn event(id: &str) -> Event {
    Event {
        kind: EventKind::Requested,
        request_id: id.to_owned(),
        route: "docs".into(),
        group: "finance-readers".into(),
        requester: "ana".into(),
        approver: None,
        comment: None,
        reason: Some("quarter close".into()),
        duration_seconds: 1800,
        ends_at_ms: None,
        at_ms: 1_700_000_000_000,
    }
}

/// The value of `scimgate_access_webhook_events_total{outcome}`.
fn counted(metrics: &Metrics, outcome: &str) -> u64 {
    let text = metrics.render().unwrap();
    let prefix = format!("scimgate_access_webhook_events_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {outcome} series in\n{text}"))
}

async fn next(
    rx: &mut mpsc::UnboundedReceiver<(serde_json::Value, Option<String>)>,
) -> (serde_json::Value, Option<String>) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the receiver heard nothing")
        .expect("the receiver is gone")
}

/// Waits until `outcome` has counted `n`, polling the registry.
async fn until_counted(metrics: &Metrics, outcome: &str, n: u64) {
    for _ in 0..500 {
        if counted(metrics, outcome) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{outcome} never reached {n}: {}", counted(metrics, outcome));
}

#[tokio::test]
async fn failed_attempts_are_retried_until_the_receiver_accepts() {
    // A 503, a 502, a 429 with Retry-After, then the 200.
    let (url, mut seen, _gate) = receiver(
        vec![(503, None), (502, None), (429, Some("0"))],
        usize::MAX >> 4,
    )
    .await;
    let metrics = Arc::new(Metrics::new());
    let links = Links {
        base: Some("https://gate.example".into()),
    };
    let (hook, sender) = Webhook::new(&config(&url, 10, 6), links, metrics.clone()).unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(sender.run(stop.clone()));
    hook.notify(event("r1"));
    let mut bodies = Vec::new();
    for _ in 0..4 {
        bodies.push(next(&mut seen).await);
    }
    until_counted(&metrics, "delivered", 1).await;
    assert_eq!(counted(&metrics, "failed"), 0);
    // Every attempt is the same event, with the configured header.
    for (body, key) in &bodies {
        assert_eq!(body, &bodies[0].0);
        assert_eq!(key.as_deref(), Some("s3cret"));
    }
    let body = &bodies[0].0;
    assert_eq!(
        body["text"],
        "ana requested finance-readers on docs for 30m: quarter close — approve at <https://gate.example/.scimgate/admin/access-requests>"
    );
    assert_eq!(body["blocks"][0]["type"], "section");
    assert_eq!(body["blocks"][0]["text"]["type"], "mrkdwn");
    let s = &body["scimgate"];
    assert_eq!(s["kind"], "requested");
    assert_eq!(s["request_id"], "r1");
    assert_eq!(s["route"], "docs");
    assert_eq!(s["group"], "finance-readers");
    assert_eq!(s["requester"], "ana");
    assert_eq!(s["reason"], "quarter close");
    assert_eq!(s["duration_seconds"], 1800);
    assert_eq!(s["at"], "2023-11-14T22:13:20.000Z");
    stop.cancel();
    task.await.unwrap();
    assert!(seen.try_recv().is_err(), "no attempt after the delivery");
}

#[tokio::test]
async fn an_event_is_given_up_after_its_attempts_or_at_a_refusal() {
    let (url, mut seen, _gate) = receiver(
        vec![(500, None), (500, None), (500, None), (404, None)],
        usize::MAX >> 4,
    )
    .await;
    let metrics = Arc::new(Metrics::new());
    let (hook, sender) =
        Webhook::new(&config(&url, 10, 3), Links::default(), metrics.clone()).unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(sender.run(stop.clone()));
    hook.notify(event("r1"));
    hook.notify(event("r2"));
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(next(&mut seen).await.0["scimgate"]["request_id"].clone());
    }
    // Three attempts of the first, then one of the second: a 404 is not retried.
    assert_eq!(ids, ["r1", "r1", "r1", "r2"]);
    until_counted(&metrics, "failed", 2).await;
    assert_eq!(counted(&metrics, "delivered"), 0);
    stop.cancel();
    task.await.unwrap();
    assert!(seen.try_recv().is_err());
}

#[tokio::test]
async fn a_full_queue_drops_the_oldest_and_counts_it() {
    // The receiver holds its answers until the test releases them.
    let (url, mut seen, gate) = receiver(Vec::new(), 0).await;
    let metrics = Arc::new(Metrics::new());
    let (hook, sender) =
        Webhook::new(&config(&url, 2, 3), Links::default(), metrics.clone()).unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(sender.run(stop.clone()));
    hook.notify(event("r1"));
    // r1 is in flight, so the queue is empty again.
    assert_eq!(next(&mut seen).await.0["scimgate"]["request_id"], "r1");
    for id in ["r2", "r3", "r4", "r5"] {
        hook.notify(event(id));
    }
    assert_eq!(counted(&metrics, "dropped"), 2);
    gate.add_permits(10);
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(next(&mut seen).await.0["scimgate"]["request_id"].clone());
    }
    assert_eq!(ids, ["r4", "r5"], "the two newest were kept");
    until_counted(&metrics, "delivered", 3).await;
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn events_left_at_shutdown_are_counted_dropped() {
    let (url, mut seen, _gate) = receiver(Vec::new(), 0).await;
    let metrics = Arc::new(Metrics::new());
    let (hook, sender) =
        Webhook::new(&config(&url, 10, 3), Links::default(), metrics.clone()).unwrap();
    let stop = CancellationToken::new();
    let task = tokio::spawn(sender.run(stop.clone()));
    hook.notify(event("r1"));
    next(&mut seen).await;
    hook.notify(event("r2"));
    stop.cancel();
    task.await.unwrap();
    assert_eq!(counted(&metrics, "dropped"), 2, "the one in flight and r2");
    assert_eq!(counted(&metrics, "delivered"), 0);
}

#[test]
fn a_full_queue_can_keep_the_oldest_instead() {
    let queue = queue::Queue::new(2, QueueFull::DropNewest);
    assert_eq!(queue.push(event("a")), queue::Pushed::Queued);
    assert_eq!(queue.push(event("b")), queue::Pushed::Queued);
    assert_eq!(queue.push(event("c")), queue::Pushed::DroppedOne);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let kept: Vec<String> =
        rt.block_on(async { vec![queue.pop().await.request_id, queue.pop().await.request_id] });
    assert_eq!(kept, ["a", "b"]);
    assert!(queue.is_empty());
}
