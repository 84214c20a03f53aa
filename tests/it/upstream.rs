//! A small fake upstream for the proxy tests: it echoes what reached it, answers late
//! (`/delay`), streams large or endless bodies (counting what it handed to the
//! connection), holds an upload
//! half-read until the test releases it, and echoes websocket messages. Its own
//! behaviour is not what is tested; what arrives at it is.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// What the upstream saw.
#[derive(Default)]
pub struct Seen {
    /// Every request: the echo document, with the `body` received added once read
    /// whole (null if it failed) by the echoing handler.
    pub requests: Mutex<Vec<Value>>,
    /// Accepted TCP connections.
    pub connections: std::sync::atomic::AtomicUsize,
    /// TCP connections open now, and the most open at once.
    pub open: std::sync::atomic::AtomicUsize,
    pub peak_open: std::sync::atomic::AtomicUsize,
    /// `/park`: requests that arrived and wait for [`Seen::unpark`]...
    pub parked: std::sync::atomic::AtomicUsize,
    /// ...which answers one parked request per permit added.
    pub unpark: Unpark,
    /// Bytes of `/big` bodies handed to the connection so far: what a client's
    /// backpressure holds back.
    pub streamed: AtomicU64,
    /// `/hold`: notified once the first [`HOLD_AT`] bytes of the upload are in and
    /// the upstream stops reading...
    pub holding: Notify,
    /// ...until this is notified; then it reads the rest.
    pub release: Notify,
}

/// Permits for parked requests (none at first).
pub struct Unpark(pub tokio::sync::Semaphore);

impl Default for Unpark {
    fn default() -> Self {
        Unpark(tokio::sync::Semaphore::new(0))
    }
}

/// How much of a `/hold` upload is read before the upstream stops reading.
pub const HOLD_AT: u64 = 8 << 20;

pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
}

impl Upstream {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Paths (with query) of every request seen.
    pub fn paths(&self) -> Vec<String> {
        self.seen
            .requests
            .lock()
            .iter()
            .map(|r| r["target"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

static ZEROS: [u8; 256 * 1024] = [0; 256 * 1024];

fn full(status: u16, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed());
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    r
}

async fn serve(seen: Arc<Seen>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_owned();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut headers = serde_json::Map::new();
    for (name, value) in req.headers() {
        let entry = headers
            .entry(name.as_str().to_owned())
            .or_insert_with(|| Value::Array(vec![]));
        if let Value::Array(a) = entry {
            a.push(Value::String(
                value.to_str().unwrap_or("<bytes>").to_owned(),
            ));
        }
    }
    let doc = json!({
        "method": req.method().as_str(),
        "target": target,
        "headers": headers,
    });
    let index = {
        let mut requests = seen.requests.lock();
        requests.push(doc.clone());
        requests.len() - 1
    };

    if path == "/ws" || path.ends_with("/ws") {
        let Some(key) = req.headers().get("sec-websocket-key").cloned() else {
            return Ok(full(400, "not a websocket request".into()));
        };
        let accept = derive_accept_key(key.as_bytes());
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                let mut ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                while let Some(Ok(msg)) = ws.next().await {
                    if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                        break;
                    }
                }
            }
        });
        let mut r = Response::new(Full::new(Bytes::new()).boxed());
        *r.status_mut() = hyper::StatusCode::SWITCHING_PROTOCOLS;
        r.headers_mut().insert(
            "upgrade",
            hyper::header::HeaderValue::from_static("websocket"),
        );
        r.headers_mut().insert(
            "connection",
            hyper::header::HeaderValue::from_static("upgrade"),
        );
        if let Ok(v) = hyper::header::HeaderValue::from_str(&accept) {
            r.headers_mut().insert("sec-websocket-accept", v);
        }
        return Ok(r);
    }
    if path.ends_with("/big") {
        let mib: usize = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("mib="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let chunks = mib * 4;
        let counted = seen.clone();
        let stream = futures_util::stream::iter((0..chunks).map(move |_| {
            counted
                .streamed
                .fetch_add(ZEROS.len() as u64, Ordering::Relaxed);
            Ok::<_, Infallible>(Frame::data(Bytes::from_static(&ZEROS)))
        }));
        let mut r = Response::new(BodyExt::boxed(StreamBody::new(stream)));
        r.headers_mut().insert(
            "content-length",
            hyper::header::HeaderValue::from(chunks * ZEROS.len()),
        );
        return Ok(r);
    }
    if path.ends_with("/slow") {
        let stream = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(&ZEROS[..1024]))),
                (),
            ))
        });
        return Ok(Response::new(BodyExt::boxed(StreamBody::new(stream))));
    }
    if path.ends_with("/park") {
        // Waits for the test to add a permit (requests held in flight).
        seen.parked.fetch_add(1, Ordering::SeqCst);
        if let Ok(permit) = seen.unpark.0.acquire().await {
            permit.forget();
        }
        return Ok(full(200, "unparked".into()));
    }
    if path.ends_with("/delay") {
        // Answers after `ms` milliseconds (a slow request in flight).
        let ms: u64 = req
            .uri()
            .query()
            .and_then(|q| q.strip_prefix("ms="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        return Ok(full(200, format!("answered after {ms} ms")));
    }
    if path.ends_with("/sink") || path.ends_with("/hold") {
        // Count the upload frame by frame, keeping nothing; `/hold` pauses after
        // HOLD_AT bytes until the test releases it.
        let mut hold = path.ends_with("/hold");
        let mut body = req.into_body();
        let mut received: u64 = 0;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => received += f.data_ref().map(|d| d.len() as u64).unwrap_or(0),
                Err(_) => break,
            }
            if hold && received >= HOLD_AT {
                hold = false;
                seen.holding.notify_one();
                seen.release.notified().await;
            }
        }
        return Ok(full(200, json!({ "received": received }).to_string()));
    }
    // The body as it arrived, recorded before the answer (so a client holding the
    // response knows it is there).
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned());
    if let Some(recorded) = seen.requests.lock().get_mut(index) {
        recorded["body"] = body.map_or(Value::Null, Value::String);
    }
    let mut r = full(200, doc.to_string());
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// Starts the upstream on a free loopback port.
pub async fn start() -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            s.connections
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let open = s.open.fetch_add(1, Ordering::SeqCst) + 1;
            s.peak_open.fetch_max(open, Ordering::SeqCst);
            let s = s.clone();
            tokio::spawn(async move {
                let counted = s.clone();
                let svc = hyper::service::service_fn(move |req| serve(s.clone(), req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(tcp), svc)
                    .await;
                counted.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Upstream { addr, seen }
}
