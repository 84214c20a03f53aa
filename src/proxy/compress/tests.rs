use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder};
use http::header::ETAG;
use http_body_util::BodyExt;
use tokio::io::AsyncReadExt;

use super::*;

fn accept(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn pick(values: &[&str]) -> Option<Coding> {
    negotiate(&accept(values))
}

#[test]
fn q_values_are_thousandths_with_at_most_three_decimals() {
    assert_eq!(parse_q("1"), Some(1000));
    assert_eq!(parse_q("1."), Some(1000));
    assert_eq!(parse_q("1.000"), Some(1000));
    assert_eq!(parse_q("0"), Some(0));
    assert_eq!(parse_q("0.5"), Some(500));
    assert_eq!(parse_q("0.25"), Some(250));
    assert_eq!(parse_q("0.001"), Some(1));
    for bad in ["1.5", "2", "0.0001", "-1", "", "0.x", "abc", "1.001", ".5"] {
        assert_eq!(parse_q(bad), None, "{bad}");
    }
}

#[test]
fn negotiation_honours_q_values_and_prefers_br() {
    assert_eq!(pick(&[]), None);
    assert_eq!(pick(&["identity"]), None);
    assert_eq!(pick(&["gzip, deflate, br, zstd"]), Some(Coding::Brotli));
    assert_eq!(pick(&["gzip, deflate"]), Some(Coding::Gzip));
    assert_eq!(pick(&["x-gzip"]), Some(Coding::Gzip));
    assert_eq!(pick(&["GZIP"]), Some(Coding::Gzip));
    assert_eq!(pick(&["br;q=0.5, gzip;q=0.8"]), Some(Coding::Gzip));
    assert_eq!(pick(&["br;q=0.8, gzip;q=0.8"]), Some(Coding::Brotli));
    assert_eq!(pick(&["br;q=0, gzip"]), Some(Coding::Gzip));
    assert_eq!(pick(&["br;q=0, gzip;q=0"]), None);
    assert_eq!(pick(&["gzip ; Q=0.1 , br ; q=0.05"]), Some(Coding::Gzip));
    // `*` stands for what is not named.
    assert_eq!(pick(&["*"]), Some(Coding::Brotli));
    assert_eq!(pick(&["br;q=0, *"]), Some(Coding::Gzip));
    assert_eq!(pick(&["*;q=0"]), None);
    assert_eq!(pick(&["*;q=0, gzip"]), Some(Coding::Gzip));
    // Invalid q-values drop their item only; several headers add up.
    assert_eq!(pick(&["br;q=2, gzip"]), Some(Coding::Gzip));
    assert_eq!(pick(&["br;q=abc"]), None);
    assert_eq!(pick(&["gzip;q=0.5", "br;q=0.9"]), Some(Coding::Brotli));
    assert_eq!(pick(&["gzip;level=1"]), Some(Coding::Gzip));
}

#[test]
fn head_requests_get_no_coding() {
    let h = accept(&["br"]);
    assert_eq!(for_request(&Method::GET, &h), Some(Coding::Brotli));
    assert_eq!(for_request(&Method::HEAD, &h), None);
}

#[test]
fn compressible_types() {
    for t in [
        "text/html",
        "text/html; charset=utf-8",
        "text/css",
        "text/plain",
        "application/json",
        "Application/JSON",
        "application/javascript",
        "application/ld+json",
        "application/xml",
        "image/svg+xml",
    ] {
        assert!(compressible_type(t), "{t}");
    }
    for t in [
        "image/png",
        "image/jpeg",
        "application/octet-stream",
        "application/gzip",
        "application/zip",
        "text/event-stream",
        "video/mp4",
        "",
        "json",
    ] {
        assert!(!compressible_type(t), "{t}");
    }
}

const JSON: &str = "application/json";

fn response(status: StatusCode, headers: &[(&str, &str)], body: Vec<u8>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    for (n, v) in headers {
        resp.headers_mut().append(
            http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    resp
}

fn sample(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(
            format!("{{\"model.shop.m{i}\": {{\"name\": \"m{i}\"}}}},").as_bytes(),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

async fn decoded(resp: Response<Body>) -> (http::response::Parts, Vec<u8>) {
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let mut out = Vec::new();
    match parts
        .headers
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap())
    {
        Some("br") => {
            BrotliDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .await
                .unwrap();
        }
        Some("gzip") => {
            GzipDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .await
                .unwrap();
        }
        None => out = bytes.to_vec(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    (parts, out)
}

async fn raw(resp: Response<Body>) -> (http::response::Parts, Vec<u8>) {
    let (parts, body) = resp.into_parts();
    (parts, body.collect().await.unwrap().to_bytes().to_vec())
}

#[tokio::test]
async fn eligible_bodies_are_compressed_and_decode_to_the_original() {
    let body = sample(300_000);
    for coding in [Coding::Brotli, Coding::Gzip] {
        let len = body.len().to_string();
        let resp = response(
            StatusCode::OK,
            &[
                ("content-type", JSON),
                ("content-length", &len),
                ("accept-ranges", "bytes"),
                ("etag", "\"v1\""),
                ("last-modified", "Tue, 01 Dec 2026 10:00:00 GMT"),
            ],
            body.clone(),
        );
        let resp = compress_response(resp, Some(coding));
        let (parts, plain) = decoded(resp).await;
        assert_eq!(plain, body);
        let h = &parts.headers;
        assert_eq!(h[CONTENT_ENCODING], coding.token());
        assert!(h.get(CONTENT_LENGTH).is_none() && h.get(ACCEPT_RANGES).is_none());
        assert_eq!(h[VARY], "accept-encoding");
        assert_eq!(h[ETAG], "W/\"v1\"");
        assert_eq!(h["last-modified"], "Tue, 01 Dec 2026 10:00:00 GMT");
    }
}

#[tokio::test]
async fn the_compressed_body_is_streamed_in_bounded_frames() {
    let resp = response(StatusCode::OK, &[("content-type", JSON)], sample(2_000_000));
    let mut body = compress_response(resp, Some(Coding::Gzip)).into_body();
    let mut frames = 0;
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        assert!(data.len() <= CHUNK);
        frames += 1;
    }
    assert!(frames >= 1);
}

#[tokio::test]
async fn ineligible_responses_pass_unchanged() {
    let big = sample(10_000);
    // Status, headers, and whether the response is eligible.
    type Case<'a> = (StatusCode, Vec<(&'a str, &'a str)>, bool);
    let cases: Vec<Case> = vec![
        (StatusCode::OK, vec![("content-type", "image/png")], false),
        (StatusCode::OK, vec![], false),
        (
            StatusCode::OK,
            vec![("content-type", JSON), ("content-encoding", "gzip")],
            false,
        ),
        (
            StatusCode::OK,
            vec![("content-type", JSON), ("content-length", "100")],
            false,
        ),
        (
            StatusCode::OK,
            vec![
                ("content-type", JSON),
                ("cache-control", "public, no-transform"),
            ],
            false,
        ),
        (
            StatusCode::PARTIAL_CONTENT,
            vec![("content-type", JSON), ("content-range", "bytes 0-9/100")],
            false,
        ),
        (StatusCode::NO_CONTENT, vec![("content-type", JSON)], false),
        (StatusCode::OK, vec![("content-type", JSON)], true),
    ];
    for (status, headers, vary) in cases {
        let mut with_etag = headers.clone();
        with_etag.push(("etag", "\"v1\""));
        // The client accepts nothing: never compressed, Vary only when eligible.
        let resp = compress_response(response(status, &with_etag, big.clone()), None);
        let (parts, body) = raw(resp).await;
        assert_eq!(body, big, "{headers:?}");
        assert_eq!(parts.headers.contains_key(VARY), vary, "{headers:?}");
        assert_eq!(parts.headers[ETAG], "\"v1\"", "{headers:?}");
        if vary {
            continue;
        }
        // Even a client that accepts br gets these as they are.
        let resp = compress_response(
            response(status, &with_etag, big.clone()),
            Some(Coding::Brotli),
        );
        let (parts, body) = raw(resp).await;
        assert_eq!(body, big, "{headers:?}");
        assert!(!parts.headers.contains_key(VARY), "{headers:?}");
        assert_eq!(parts.headers[ETAG], "\"v1\"", "{headers:?}");
    }
}

#[tokio::test]
async fn not_modified_keeps_the_form_the_client_holds() {
    let resp = compress_response(
        response(StatusCode::NOT_MODIFIED, &[("etag", "\"v1\"")], Vec::new()),
        Some(Coding::Brotli),
    );
    assert_eq!(resp.headers()[ETAG], "W/\"v1\"");
    assert!(!resp.headers().contains_key(CONTENT_ENCODING));
    let resp = compress_response(
        response(StatusCode::NOT_MODIFIED, &[("etag", "\"v1\"")], Vec::new()),
        None,
    );
    assert_eq!(resp.headers()[ETAG], "\"v1\"");
}

#[test]
fn vary_is_added_once() {
    let mut h = HeaderMap::new();
    h.insert(VARY, HeaderValue::from_static("Origin"));
    add_vary(&mut h);
    add_vary(&mut h);
    let all: Vec<_> = h.get_all(VARY).iter().collect();
    assert_eq!(all, ["Origin", "accept-encoding"]);
    let mut star = HeaderMap::new();
    star.insert(VARY, HeaderValue::from_static("*"));
    add_vary(&mut star);
    assert_eq!(star.get_all(VARY).iter().count(), 1);
}

#[tokio::test]
async fn a_cancelled_stream_ends_the_compressed_body_with_an_error() {
    use crate::proxy::body::CancellableBody;
    use crate::revoke::StreamCancel;
    use http_body_util::StreamBody;
    use hyper::body::Frame;

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<bytes::Bytes>, io::Error>>(1);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let cancel = StreamCancel::new();
    let upstream =
        CancellableBody::<_, ()>::new(StreamBody::new(Box::pin(stream)), cancel.clone(), None);
    let resp = response(StatusCode::OK, &[("content-type", JSON)], Vec::new());
    let (parts, _) = resp.into_parts();
    let resp = Response::from_parts(parts, Body::new(upstream));
    let mut body = compress_response(resp, Some(Coding::Gzip)).into_body();
    tx.send(Ok(Frame::data(bytes::Bytes::from(sample(200_000)))))
        .await
        .unwrap();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        cancel.cancel();
    });
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match body.frame().await {
                Some(Ok(_)) => continue,
                Some(Err(_)) => return true,
                None => return false,
            }
        }
    })
    .await
    .expect("a cancel must wake the compressed body");
    assert!(ended, "the body ends with an error, not as if complete");
    canceller.await.unwrap();
    drop(tx);
}
