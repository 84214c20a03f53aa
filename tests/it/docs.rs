//! `preset: dbt-docs` through the proxy, over a fake `dbt docs serve`: only the UI's
//! four files reach the upstream; responses are compressed (br, gzip) when the client
//! accepts it and only then; validators pass so browsers revalidate; a 256 MiB manifest
//! streams through the compressor with flat memory (the server in a process of its own).

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;

use crate::docs_upstream::{self, manifest_shape, manifest_text, LAST_MODIFIED};
use crate::issuer::Issuer;
use crate::proxy_env::{reader, Env};
use crate::served::{assert_growth, mib, Served};

/// The manifest of the small site (bytes, about).
const MANIFEST: u64 = 300_000;

fn policy(small: &str, big: &str) -> String {
    format!(
        r#"routes:
  - name: finance-docs
    preset: dbt-docs
    match: {{ host: docs.test, path: /finance/** }}
    strip_prefix: /finance
    upstream: {small}
    allow: [{{ name: readers, groups: [readers] }}]
  - name: big-docs
    preset: dbt-docs
    match: {{ host: big.test }}
    upstream: {big}
    allow: [{{ groups: [readers] }}]
  - name: assets
    match: {{ host: assets.test }}
    upstream: {small}
    compress: true
    allow: [{{ groups: [readers] }}]
  - name: plain
    match: {{ host: plain.test }}
    upstream: {small}
    allow: [{{ groups: [readers] }}]
"#
    )
}

async fn env_with(big_manifest: u64) -> Env {
    let small = docs_upstream::start(MANIFEST).await;
    let big = docs_upstream::start(big_manifest).await;
    let policy = policy(&small.url(), &big.url());
    let iss = Issuer::start().await;
    // The big upstream lives as long as the test (its task holds the listener).
    std::mem::forget(big);
    let env = Env::start_with(small, iss, "", Some(policy)).await;
    reader(&env, "rita").await;
    env.user("olga").await;
    env
}

async fn get(env: &Env, host: &str, path: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut r = env.get(host, path, Some("rita"));
    for (n, v) in extra {
        r = r.header(*n, *v);
    }
    r.send().await.unwrap()
}

async fn decode(coding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        Some("br") => BrotliDecoder::new(body).read_to_end(&mut out).await,
        Some("gzip") => GzipDecoder::new(body).read_to_end(&mut out).await,
        None => return body.to_vec(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    .unwrap();
    out
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn only_the_four_ui_files_reach_the_upstream() {
    let env = env_with(1000).await;
    for path in [
        "/finance/",
        "/finance/index.html",
        "/finance/manifest.json?cb=1700000000",
        "/finance/catalog.json?cb=1700000000",
    ] {
        assert_eq!(
            get(&env, "docs.test", path, &[]).await.status(),
            200,
            "{path}"
        );
    }
    let head = env
        .gate
        .http
        .head(format!("http://{}/finance/manifest.json", env.addr()))
        .header("host", "docs.test")
        .bearer_auth(env.iss.token("rita"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    for path in [
        "/finance/run_results.json",
        "/finance/partial_parse.msgpack",
        "/finance/compiled/shop/models/orders.sql",
        "/finance/run/shop/models/orders.sql",
        "/finance/graph.gpickle",
        "/finance/Manifest.json",
        "/finance/manifest.json/",
        "/finance/x/../run_results.json",
        "/finance/%2e%2e/finance/compiled/a.sql",
    ] {
        let r = get(&env, "docs.test", path, &[]).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    // Outside the prefix there is no route at all.
    let r = get(&env, "docs.test", "/run_results.json", &[]).await;
    assert_eq!(r.status(), 404);
    let post = env
        .gate
        .http
        .post(format!("http://{}/finance/index.html", env.addr()))
        .header("host", "docs.test")
        .bearer_auth(env.iss.token("rita"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403);
    // Someone outside the group gets nothing, not even the page.
    let r = env
        .get("docs.test", "/finance/index.html", Some("olga"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let mut seen = env.up.paths();
    seen.sort();
    assert_eq!(
        seen,
        [
            "/",
            "/catalog.json?cb=1700000000",
            "/index.html",
            "/manifest.json",
            "/manifest.json?cb=1700000000",
        ]
    );
}

#[tokio::test]
async fn the_bare_prefix_redirects_into_the_site() {
    let env = env_with(1000).await;
    let r = env
        .raw(&env.raw_get("docs.test", "/finance?cb=1", "rita", ""))
        .await;
    assert_eq!(r.status, 301, "{}", r.head);
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("location: /finance/?cb=1"),
        "{}",
        r.head
    );
    // The redirect is for those allowed in; others are refused first.
    let r = env
        .raw(&env.raw_get("docs.test", "/finance", "olga", ""))
        .await;
    assert_eq!(r.status, 403);
    assert!(env.up.paths().is_empty());
}

#[tokio::test]
async fn responses_are_compressed_as_the_client_accepts() {
    let env = env_with(1000).await;
    let original = manifest_text(MANIFEST);
    for (accept, coding) in [
        ("gzip, deflate, br, zstd", Some("br")),
        ("gzip", Some("gzip")),
        ("br;q=0.5, gzip;q=0.9", Some("gzip")),
        ("identity", None),
        ("br;q=0, gzip;q=0", None),
    ] {
        let r = get(
            &env,
            "docs.test",
            "/finance/manifest.json?cb=1",
            &[("accept-encoding", accept)],
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            header(&r, "content-encoding").as_deref(),
            coding,
            "{accept}"
        );
        assert_eq!(header(&r, "vary").as_deref(), Some("accept-encoding"));
        assert_eq!(
            header(&r, "content-length").is_some(),
            coding.is_none(),
            "{accept}"
        );
        let body = r.bytes().await.unwrap();
        if coding.is_some() {
            assert!(body.len() * 5 < original.len(), "{accept}: {}", body.len());
        }
        assert_eq!(decode(coding, &body).await, original.as_bytes(), "{accept}");
    }
    let r = get(&env, "docs.test", "/finance/", &[("accept-encoding", "br")]).await;
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("br"));
    let html = decode(Some("br"), &r.bytes().await.unwrap()).await;
    assert!(String::from_utf8(html)
        .unwrap()
        .starts_with(docs_upstream::INDEX_HTML));
    let r = get(
        &env,
        "docs.test",
        "/finance/catalog.json",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("gzip"));
    // The client's Accept-Encoding still reaches the upstream (it may compress itself).
    let seen = env.seen();
    assert_eq!(seen.last().unwrap()["headers"]["accept-encoding"], "gzip");
}

#[tokio::test]
async fn head_images_tiny_and_encoded_bodies_and_plain_routes_pass_as_they_are() {
    let env = env_with(1000).await;
    let head = env
        .gate
        .http
        .head(format!("http://{}/finance/manifest.json", env.addr()))
        .header("host", "docs.test")
        .header("accept-encoding", "br")
        .bearer_auth(env.iss.token("rita"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-encoding"), None);
    assert_eq!(
        header(&head, "content-length"),
        Some(manifest_shape(MANIFEST).1.to_string())
    );
    assert_eq!(
        header(&head, "etag").as_deref(),
        Some("\"manifest-json-v1\"")
    );

    let br = [("accept-encoding", "br, gzip")];
    let r = get(&env, "assets.test", "/logo.png", &br).await;
    assert_eq!(header(&r, "content-encoding"), None);
    assert_eq!(header(&r, "vary"), None);
    assert_eq!(r.bytes().await.unwrap().len(), 8000);
    let r = get(&env, "assets.test", "/tiny.json", &br).await;
    assert_eq!(header(&r, "content-encoding"), None);
    assert_eq!(r.text().await.unwrap(), "{\"a\": 1}");
    let r = get(&env, "assets.test", "/pre.json", &br).await;
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(header(&r, "content-length").as_deref(), Some("4000"));
    assert_eq!(&r.bytes().await.unwrap()[..], &[0x1fu8; 4000][..]);
    // A route without `compress` never compresses.
    let r = get(&env, "plain.test", "/manifest.json", &br).await;
    assert_eq!(header(&r, "content-encoding"), None);
    assert_eq!(header(&r, "vary"), None);
    assert_eq!(header(&r, "etag").as_deref(), Some("\"manifest-json-v1\""));
    // Another route with `compress: true` does.
    let r = get(&env, "assets.test", "/index.html", &br).await;
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("br"));
}

#[tokio::test]
async fn browsers_revalidate_through_the_proxy_and_get_304() {
    let env = env_with(1000).await;
    let path = "/finance/manifest.json?cb=2";
    let br = ("accept-encoding", "gzip, deflate, br");
    let first = get(&env, "docs.test", path, &[br]).await;
    assert_eq!(first.status(), 200);
    let etag = header(&first, "etag").unwrap();
    assert_eq!(etag, "W/\"manifest-json-v1\"");
    assert_eq!(
        header(&first, "last-modified").as_deref(),
        Some(LAST_MODIFIED)
    );

    // The tag of the compressed form revalidates; the upstream sees its own tag.
    let again = get(&env, "docs.test", path, &[br, ("if-none-match", &etag)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag").as_deref(), Some(etag.as_str()));
    assert_eq!(header(&again, "content-encoding"), None);
    assert!(again.bytes().await.unwrap().is_empty());
    let seen = env.seen();
    assert_eq!(
        seen.last().unwrap()["headers"]["if-none-match"],
        "\"manifest-json-v1\""
    );

    // Last-Modified revalidates too.
    let since = get(
        &env,
        "docs.test",
        path,
        &[br, ("if-modified-since", LAST_MODIFIED)],
    )
    .await;
    assert_eq!(since.status(), 304);

    // An identity client keeps the strong tag, and revalidates with it.
    let plain = get(&env, "docs.test", path, &[]).await;
    let strong = header(&plain, "etag").unwrap();
    assert_eq!(strong, "\"manifest-json-v1\"");
    let again = get(&env, "docs.test", path, &[("if-none-match", &strong)]).await;
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag").as_deref(), Some(strong.as_str()));
    // A stale tag gets the body.
    let stale = get(
        &env,
        "docs.test",
        path,
        &[br, ("if-none-match", "W/\"old\"")],
    )
    .await;
    assert_eq!(stale.status(), 200);
    assert_eq!(header(&stale, "content-encoding").as_deref(), Some("br"));
}

#[tokio::test]
async fn a_256_mib_manifest_streams_compressed_with_flat_server_memory() {
    let size = 256 << 20;
    let small = docs_upstream::start(MANIFEST).await;
    let big = docs_upstream::start(size).await;
    let (_, length) = manifest_shape(size);
    // The server alone, in a process of its own: its memory is what is measured.
    let served = Served::start(Issuer::start().await, &policy(&small.url(), &big.url()), "").await;
    served.reader("rita").await;
    let get = |path: &str| {
        served
            .request(reqwest::Method::GET, "big.test", path, "rita")
            .header("accept-encoding", "gzip, deflate, br")
            .send()
    };
    // Warm up allocators, pools and the encoder.
    let warm = get("/index.html").await.unwrap();
    let _ = warm.bytes().await.unwrap();
    let before = served.new_peak();
    let r = get("/manifest.json?cb=3").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("br"));
    let compressed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = compressed.clone();
    let stream = r.bytes_stream().map_ok(move |b| {
        counter.fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        b
    });
    let reader = StreamReader::new(stream.map_err(std::io::Error::other));
    let mut decoder: Box<dyn AsyncRead + Unpin> =
        Box::new(BrotliDecoder::new(tokio::io::BufReader::new(reader)));
    let mut buf = vec![0u8; 256 * 1024];
    let mut total: u64 = 0;
    let mut mid = before.rss;
    let mut tail = Vec::new();
    loop {
        let n = decoder.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
        tail = buf[..n].to_vec();
        // Mid-transfer samples of the server's memory.
        if total % (16 << 20) < n as u64 {
            mid = mid.max(served.memory().rss);
        }
    }
    let after = served.memory();
    let compressed = compressed.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "{} MiB manifest as {} KiB br; server RSS {} MiB -> {} MiB mid-transfer, peak {} MiB",
        mib(length),
        compressed >> 10,
        mib(before.rss),
        mib(mid),
        mib(after.peak)
    );
    assert_eq!(total, length);
    assert!(String::from_utf8_lossy(&tail).ends_with("}}}"));
    assert!(compressed * 5 < length);
    assert_growth(before.peak, mid, after.peak);
}
