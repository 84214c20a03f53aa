//! A fake `dbt docs serve` for the docs preset tests: the files of a `target/`
//! directory (the UI's four and the artifacts it must never expose), with `ETag` and
//! `Last-Modified` and the 304s they earn, plus a few files for the compression rules
//! (an image, an already gzipped file, a tiny file). The manifest can be made large:
//! it is then generated while it is sent, never held. It records what reaches it.

#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;

use crate::upstream::{Seen, Upstream};

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

pub const LAST_MODIFIED: &str = "Tue, 01 Dec 2026 10:00:00 GMT";
pub const INDEX_HTML: &str = "<!doctype html><html><head><title>dbt Docs</title></head>";

/// One generated manifest node; every node has the same length.
fn node(i: u64) -> String {
    format!(
        "\"model.shop.m{i:08}\": {{\"name\": \"m{i:08}\", \"resource_type\": \"model\", \"description\": \"Orders of customer {i:08}, one row per order.\"}},"
    )
}

const PREFIX: &str = "{\"metadata\": {\"dbt_version\": \"1.10.0\"}, \"nodes\": {";
const SUFFIX: &str = "\"model.shop.last\": {\"name\": \"last\"}}}";
const NODES_PER_CHUNK: u64 = 512;

/// The number of nodes of a manifest of about `bytes`, and its exact length.
pub fn manifest_shape(bytes: u64) -> (u64, u64) {
    let per = node(0).len() as u64;
    let nodes = bytes / per;
    (
        nodes,
        PREFIX.len() as u64 + nodes * per + SUFFIX.len() as u64,
    )
}

/// The whole manifest (for small ones, to compare with what a client decodes).
pub fn manifest_text(bytes: u64) -> String {
    let (nodes, len) = manifest_shape(bytes);
    let mut out = String::with_capacity(len as usize);
    out.push_str(PREFIX);
    for i in 0..nodes {
        out.push_str(&node(i));
    }
    out.push_str(SUFFIX);
    out
}

fn manifest_body(bytes: u64) -> Body {
    let (nodes, _) = manifest_shape(bytes);
    let chunks = futures_util::stream::unfold(Some(0u64), move |next| async move {
        let start = next?;
        if start == u64::MAX {
            return None;
        }
        let mut text = String::new();
        if start == 0 {
            text.push_str(PREFIX);
        }
        let end = (start + NODES_PER_CHUNK).min(nodes);
        for i in start..end {
            text.push_str(&node(i));
        }
        let following = if end == nodes {
            text.push_str(SUFFIX);
            u64::MAX
        } else {
            end
        };
        Some((
            Ok::<_, Infallible>(Frame::data(Bytes::from(text))),
            Some(following),
        ))
    });
    BodyExt::boxed(StreamBody::new(chunks))
}

fn file(status: StatusCode, content_type: &str, body: Body, len: u64) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_str(content_type).unwrap());
    h.insert("content-length", HeaderValue::from(len));
    h.insert("last-modified", HeaderValue::from_static(LAST_MODIFIED));
    r
}

fn small(content_type: &str, text: impl Into<Bytes>) -> Response<Body> {
    let bytes: Bytes = text.into();
    let len = bytes.len() as u64;
    file(StatusCode::OK, content_type, Full::new(bytes).boxed(), len)
}

/// Each file's strong ETag.
fn etag_of(path: &str) -> String {
    format!(
        "\"{}-v1\"",
        path.trim_start_matches('/').replace(['/', '.'], "-")
    )
}

async fn serve(
    seen: Arc<Seen>,
    manifest_bytes: u64,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let mut headers = serde_json::Map::new();
    for (name, value) in req.headers() {
        headers.insert(
            name.as_str().to_owned(),
            json!(value.to_str().unwrap_or("<bytes>")),
        );
    }
    seen.requests.lock().push(json!({
        "method": req.method().as_str(),
        "target": req.uri().path_and_query().map(|p| p.as_str()).unwrap_or_default(),
        "headers": headers,
    }));
    let etag = etag_of(&path);
    // Strict validators: the tag must be exactly ours (as many static servers do).
    let tag_matches = req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let unmodified = req
        .headers()
        .get("if-modified-since")
        .is_some_and(|v| v == LAST_MODIFIED);
    if tag_matches || (unmodified && !req.headers().contains_key("if-none-match")) {
        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r.headers_mut()
            .insert("etag", HeaderValue::from_str(&etag).unwrap());
        r.headers_mut()
            .insert("last-modified", HeaderValue::from_static(LAST_MODIFIED));
        return Ok(r);
    }
    let mut r = match path.as_str() {
        "/" | "/index.html" => small("text/html", format!("{INDEX_HTML}{}", "<p>docs</p>".repeat(500))),
        "/manifest.json" => {
            let (_, len) = manifest_shape(manifest_bytes);
            file(StatusCode::OK, "application/json", manifest_body(manifest_bytes), len)
        }
        "/catalog.json" => small("application/json", json!({"nodes": {"model.shop.orders": {"columns": {"id": {"type": "INTEGER"}}}}, "pad": "x".repeat(4000)}).to_string()),
        "/run_results.json" => small("application/json", "{\"results\": [\"secret\"]}"),
        "/partial_parse.msgpack" => small("application/octet-stream", "secret"),
        "/logo.png" => small("image/png", vec![0x89u8; 8000]),
        "/tiny.json" => small("application/json", "{\"a\": 1}"),
        "/pre.json" => {
            let mut r = small("application/json", vec![0x1fu8; 4000]);
            r.headers_mut()
                .insert("content-encoding", HeaderValue::from_static("gzip"));
            r
        }
        p if p.starts_with("/compiled/") || p.starts_with("/run/") => {
            small("text/plain", "select * from secret")
        }
        _ => {
            let mut r = small("text/plain", "not found");
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    };
    r.headers_mut()
        .insert("etag", HeaderValue::from_str(&etag).unwrap());
    Ok(r)
}

/// Starts the docs upstream with a manifest of about `manifest_bytes`.
pub async fn start(manifest_bytes: u64) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let s = s.clone();
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req| serve(s.clone(), manifest_bytes, req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    Upstream { addr, seen }
}
