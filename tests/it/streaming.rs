//! Bodies are streamed, never buffered, measured on the server process alone (the real
//! binary; its `/proc` memory): a 256 MiB download and a 256 MiB upload pass while the
//! server's resident memory grows by less than 64 MiB, at its peak and in the middle of
//! the transfer, with one side held back. Held back, the other side must stop within
//! what the socket buffers between them hold: a server that buffered the body (whole,
//! or in a queue without bound) would take it all, and hold it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::issuer::Issuer;
use crate::proxy_env::standard_policy;
use crate::served::{assert_growth, in_flight_bound, mib, until_stopped, Served};
use crate::upstream::{self, HOLD_AT};

/// The body of each transfer.
const BODY: u64 = 256 << 20;

/// How far the other side may get when one is held back after `held` bytes: what the
/// sockets between them hold. Well short of the body, or the test could not tell.
fn stop_bound(held: u64) -> u64 {
    let bound = held + in_flight_bound();
    assert!(
        bound < BODY * 3 / 4,
        "socket buffers of {} MiB: the body is too small to tell",
        mib(bound)
    );
    bound
}

async fn served() -> (Served, upstream::Upstream) {
    let up = upstream::start().await;
    let served = Served::start(Issuer::start().await, &standard_policy(&up.url()), "").await;
    served.reader("ivan").await;
    // Warm up allocators, pools and the upstream connection.
    let mut r = served
        .request(
            reqwest::Method::GET,
            "app.test",
            "/public/big?mib=4",
            "ivan",
        )
        .send()
        .await
        .unwrap();
    while r.chunk().await.unwrap().is_some() {}
    (served, up)
}

#[tokio::test]
async fn a_256_mib_download_streams_with_flat_server_memory() {
    let (served, up) = served().await;
    let before = served.new_peak();
    let streamed = &up.seen.streamed;
    let from = streamed.load(Ordering::Relaxed);
    let path = format!("/public/big?mib={}", mib(BODY));
    let mut r = served
        .request(reqwest::Method::GET, "app.test", &path, "ivan")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut total: u64 = 0;
    while total < 8 << 20 {
        total += r.chunk().await.unwrap().expect("more body").len() as u64;
    }
    // The client stops reading: the upstream must stop soon after.
    let (stopped_at, mid) = until_stopped(streamed, from + BODY, &served).await;
    let stopped_at = stopped_at - from;
    while let Some(chunk) = r.chunk().await.unwrap() {
        total += chunk.len() as u64;
    }
    let after = served.memory();
    eprintln!(
        "{} MiB downloaded; with the client paused after 8 MiB the upstream stopped at {} MiB; \
         server RSS {} MiB -> {} MiB mid-transfer, peak {} MiB",
        mib(total),
        mib(stopped_at),
        mib(before.rss),
        mib(mid),
        mib(after.peak)
    );
    assert_eq!(total, BODY);
    assert!(
        stopped_at < stop_bound(8 << 20),
        "the server read {} MiB from the upstream while the client had read 8",
        mib(stopped_at)
    );
    assert_growth(before.peak, mid, after.peak);
}

#[tokio::test]
async fn a_256_mib_upload_streams_with_flat_server_memory() {
    let (served, up) = served().await;
    let before = served.new_peak();
    static CHUNK: [u8; 256 * 1024] = [7; 256 * 1024];
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let stream = futures_util::stream::iter((0..BODY / CHUNK.len() as u64).map(move |_| {
        counter.fetch_add(CHUNK.len() as u64, Ordering::Relaxed);
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(&CHUNK))
    }));
    let upload = served
        .request(reqwest::Method::POST, "app.test", "/public/hold", "ivan")
        .body(reqwest::Body::wrap_stream(stream))
        .timeout(Duration::from_secs(120))
        .send();
    let upload = tokio::spawn(upload);
    // The upstream has the first 8 MiB and stops reading: the client must stop soon
    // after.
    up.seen.holding.notified().await;
    let (stopped_at, mid) = until_stopped(&sent, BODY, &served).await;
    up.seen.release.notify_one();
    let resp = upload.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    let after = served.memory();
    eprintln!(
        "{} MiB uploaded; with the upstream paused at {} MiB the client stopped at {} MiB; \
         server RSS {} MiB -> {} MiB mid-transfer, peak {} MiB",
        mib(BODY),
        mib(HOLD_AT),
        mib(stopped_at),
        mib(before.rss),
        mib(mid),
        mib(after.peak)
    );
    assert_eq!(doc["received"], serde_json::json!(BODY));
    assert!(
        stopped_at < stop_bound(HOLD_AT),
        "the server took {} MiB from the client while the upstream had read 8",
        mib(stopped_at)
    );
    assert_growth(before.peak, mid, after.peak);
}
