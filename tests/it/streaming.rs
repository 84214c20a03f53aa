//! Bodies are streamed, never buffered: a 200 MiB download and a 100 MiB upload pass
//! through the proxy while its resident memory grows by less than 50 MiB.

use std::time::Duration;

use crate::proxy_env::{reader, Env};

/// The test process's resident memory (the proxy runs in it).
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

#[tokio::test]
async fn a_200_mib_download_streams_with_flat_memory() {
    let env = Env::start("").await;
    reader(&env, "ivan").await;
    // Warm up allocators and connection pools.
    let mut r = env
        .get("app.test", "/public/big?mib=4", Some("ivan"))
        .send()
        .await
        .unwrap();
    while r.chunk().await.unwrap().is_some() {}
    let before = rss_bytes();
    let mut r = env
        .get("app.test", "/public/big?mib=200", Some("ivan"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut total: u64 = 0;
    let mut peak = before;
    while let Some(chunk) = r.chunk().await.unwrap() {
        total += chunk.len() as u64;
        if total % (16 << 20) < chunk.len() as u64 {
            peak = peak.max(rss_bytes());
        }
    }
    peak = peak.max(rss_bytes());
    assert_eq!(total, 200 << 20);
    let growth = peak.saturating_sub(before);
    eprintln!(
        "200 MiB streamed; RSS {} MiB -> peak {} MiB (+{} MiB)",
        before >> 20,
        peak >> 20,
        growth >> 20
    );
    assert!(before > 0, "RSS readable");
    assert!(growth < 50 << 20, "RSS grew by {} MiB", growth >> 20);
}

#[tokio::test]
async fn a_100_mib_upload_streams_with_flat_memory() {
    let env = Env::start("").await;
    reader(&env, "jane").await;
    let before = rss_bytes();
    static CHUNK: [u8; 256 * 1024] = [7; 256 * 1024];
    let stream = futures_util::stream::iter(
        (0..400).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from_static(&CHUNK))),
    );
    let url = format!("http://{}/public/sink", env.addr());
    let resp = env
        .gate
        .http
        .post(url)
        .header("host", "app.test")
        .bearer_auth(env.iss.token("jane"))
        .body(reqwest::Body::wrap_stream(stream))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(doc["received"], serde_json::json!(100u64 << 20));
    let growth = rss_bytes().saturating_sub(before);
    eprintln!("100 MiB uploaded; RSS +{} MiB", growth >> 20);
    assert!(growth < 50 << 20, "RSS grew by {} MiB", growth >> 20);
}
