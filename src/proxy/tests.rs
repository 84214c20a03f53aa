//! Forwarding over real sockets: a tiny hyper upstream on 127.0.0.1:0, `forward` called
//! directly or behind a small front server (for what only a real client connection
//! shows: aborts on cancel, websocket upgrades).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::revoke::StreamCancel;
use axum::body::Body;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Message;

use super::headers::{add_identity, is_websocket_upgrade, prepare_request};
use super::*;
use crate::path::normalise;
use crate::policy::RouteSettings;

/// Bounds roomy enough that no test here reaches them.
fn limits() -> connection_cap::UpstreamLimits {
    connection_cap::UpstreamLimits::new(
        1024,
        crate::config::server::DEFAULT_UPSTREAM_IDLE_PER_HOST,
        Arc::new(crate::metrics::upstream_connections::UpstreamConnectionMetrics::default()),
    )
}

type Handler = Arc<
    dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> + Send + Sync,
>;

/// An upstream serving HTTP/1.1 and h2c; counts accepted connections.
struct Upstream {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
}

async fn spawn_upstream(handler: Handler) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepts = Arc::new(AtomicUsize::new(0));
    let counted = accepts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Upstream { addr, accepts }
}

/// Answers with what it received: method, URI, version and headers as JSON.
fn echo() -> Handler {
    Arc::new(|req: Request<Incoming>| {
        Box::pin(async move {
            let mut headers = serde_json::Map::new();
            for name in req.headers().keys() {
                let values: Vec<Value> = req
                    .headers()
                    .get_all(name)
                    .iter()
                    .map(|v| json!(v.to_str().unwrap_or("<binary>")))
                    .collect();
                headers.insert(name.to_string(), Value::Array(values));
            }
            let seen = json!({
                "method": req.method().as_str(),
                "uri": req.uri().to_string(),
                "version": format!("{:?}", req.version()),
                "headers": headers,
            });
            let mut response = Response::new(Body::from(seen.to_string()));
            response
                .headers_mut()
                .insert("connection", HeaderValue::from_static("x-upstream-hop"));
            response
                .headers_mut()
                .insert("x-upstream-hop", HeaderValue::from_static("1"));
            response
        })
    })
}

/// A body fed from a channel, with the sender for the test to drive.
fn channel_body() -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(Frame::data(chunk)), rx))
    });
    (tx, Body::new(StreamBody::new(stream)))
}

fn settings(upstream: &str) -> RouteSettings {
    RouteSettings {
        upstream: upstream.parse().unwrap(),
        strip_prefix: None,
        inject: Vec::new(),
        keep_alive: true,
        max_concurrency: None,
        connect_timeout: Duration::from_secs(2),
        response_timeout: Duration::from_secs(10),
        stream_idle_timeout: None,
        websocket_idle_timeout: None,
        compress: false,
        preserve_host: false,
        allow_ambiguous_paths: false,
        upstream_h2c: false,
        upstream_ca_file: None,
        forward_bearer_token: false,
    }
}

/// An exchange cancelled by `cancel`, on no listener's connection.
fn exchange(cancel: StreamCancel) -> forward::Exchange {
    forward::Exchange {
        cancel,
        keep: None,
        bounds: None,
    }
}

fn request(uri: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header("host", "docs.example.com")
        .body(Body::empty())
        .unwrap()
}

/// Normalises the request's path and forwards it.
async fn send(
    client: &UpstreamClient,
    settings: &RouteSettings,
    req: Request<Body>,
) -> Result<Response<Body>, ProxyError> {
    let path = normalise(req.uri().path()).unwrap().forward;
    forward(client, settings, req, &path, exchange(StreamCancel::new())).await
}

async fn seen(response: Response<Body>) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// A front server like the gate's: normalise, clean headers, forward.
async fn spawn_front(
    client: UpstreamClient,
    settings: RouteSettings,
    cancel: StreamCancel,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::new((client, settings));
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let shared = shared.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                let service = service_fn(move |mut req: Request<Incoming>| {
                    let shared = shared.clone();
                    let cancel = cancel.clone();
                    async move {
                        let (client, settings) = &*shared;
                        let ctx = ClientContext {
                            peer: peer.ip(),
                            trusted_proxy: false,
                            tls: false,
                            host: "front.test".into(),
                        };
                        let path = match normalise(req.uri().path()) {
                            Ok(path) => path.forward,
                            Err(e) => return Ok::<_, Infallible>(failed(&ProxyError::from(e))),
                        };
                        let upgrade = is_websocket_upgrade(req.version(), req.headers());
                        prepare_request(req.headers_mut(), &ctx, upgrade);
                        add_identity(
                            req.headers_mut(),
                            &IdentityHeaders {
                                user: "alice".into(),
                                ..IdentityHeaders::default()
                            },
                        );
                        Ok(forward(client, settings, req, &path, exchange(cancel))
                            .await
                            .unwrap_or_else(|e| failed(&e)))
                    }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// The test front's answer to a failure (the gate's map has its own tests).
fn failed(e: &ProxyError) -> Response<Body> {
    let mut r = Response::new(Body::from(e.to_string()));
    *r.status_mut() = StatusCode::BAD_GATEWAY;
    r
}

#[tokio::test]
async fn the_query_is_kept_verbatim_and_the_prefix_stripped() {
    let upstream = spawn_upstream(echo()).await;
    let mut s = settings(&format!("http://{}/base/", upstream.addr));
    s.strip_prefix = Some("/finance".into());
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    let seen = seen(
        send(
            &client,
            &s,
            request("/finance/a/../b%20c/?x=1&y=%2f&cb=a+b"),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(seen["uri"], "/base/b%20c/?x=1&y=%2f&cb=a+b");
    assert_eq!(seen["method"], "GET");
    assert_eq!(seen["headers"]["host"], json!([upstream.addr.to_string()]));

    let root = seen_root(&client, &s).await;
    assert_eq!(root["uri"], "/base/");
}

async fn seen_root(client: &UpstreamClient, s: &RouteSettings) -> Value {
    seen(send(client, s, request("/finance")).await.unwrap()).await
}

#[tokio::test]
async fn injected_authorization_replaces_the_clients() {
    let upstream = spawn_upstream(echo()).await;
    let mut s = settings(&format!("http://{}", upstream.addr));
    s.inject = vec![
        (
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Token dbtc_secret"),
        ),
        (
            HeaderName::from_static("x-account"),
            HeaderValue::from_static("42"),
        ),
    ];
    s.preserve_host = true;
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    let mut req = request("/api/v2/accounts/");
    req.headers_mut().insert(
        "authorization",
        HeaderValue::from_static("Bearer client-token"),
    );
    req.headers_mut()
        .append("x-account", HeaderValue::from_static("7"));
    let response = send(&client, &s, req).await.unwrap();
    // Hop-by-hop headers of the upstream's response do not reach the client.
    assert!(response.headers().get("x-upstream-hop").is_none());
    assert!(response.headers().get("connection").is_none());
    let seen = seen(response).await;
    assert_eq!(
        seen["headers"]["authorization"],
        json!(["Token dbtc_secret"])
    );
    assert_eq!(seen["headers"]["x-account"], json!(["42"]));
    assert_eq!(seen["headers"]["host"], json!(["docs.example.com"]));
}

#[tokio::test]
async fn without_keep_alive_every_request_gets_a_new_connection() {
    for keep_alive in [false, true] {
        let upstream = spawn_upstream(echo()).await;
        let mut s = settings(&format!("http://{}", upstream.addr));
        s.keep_alive = keep_alive;
        let client = UpstreamClient::new(&s, &limits()).unwrap();
        for _ in 0..3 {
            let seen = seen(send(&client, &s, request("/index.html")).await.unwrap()).await;
            let connection = seen["headers"]["connection"].clone();
            if keep_alive {
                assert_eq!(connection, Value::Null);
            } else {
                assert_eq!(connection, json!(["close"]));
            }
            // The finished connection goes back to the pool (or away) on a task of its own.
            settle().await;
        }
        let expected = if keep_alive { 1 } else { 3 };
        assert_eq!(
            upstream.accepts.load(Ordering::SeqCst),
            expected,
            "keep_alive {keep_alive}"
        );
    }
}

#[tokio::test]
async fn h2c_upstreams_get_http2() {
    let upstream = spawn_upstream(echo()).await;
    let mut s = settings(&format!("http://{}", upstream.addr));
    s.upstream_h2c = true;
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    for _ in 0..2 {
        let seen = seen(send(&client, &s, request("/x?y=1")).await.unwrap()).await;
        assert_eq!(seen["version"], "HTTP/2.0");
        assert_eq!(seen["uri"], format!("http://{}/x?y=1", upstream.addr));
    }
    assert_eq!(upstream.accepts.load(Ordering::SeqCst), 1);

    let plain = settings(&format!("http://{}", upstream.addr));
    let client = UpstreamClient::new(&plain, &limits()).unwrap();
    let seen = seen(send(&client, &plain, request("/x")).await.unwrap()).await;
    assert_eq!(seen["version"], "HTTP/1.1");
}

const MIB: usize = 1024 * 1024;

/// Returns once no task of this (current-thread) runtime can make progress: with the
/// clock paused, a timer fires only when every task waits and no I/O is ready.
async fn settle() {
    tokio::time::pause();
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::time::resume();
}

/// How long a test waits for something that should happen at once before it fails
/// (a guard against hanging, not a latency target: those are benchmarks).
const GUARD: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_64_mib_response_streams_without_buffering() {
    let finished = Arc::new(AtomicBool::new(false));
    let done = finished.clone();
    let upstream = spawn_upstream(Arc::new(move |_req| {
        let done = done.clone();
        Box::pin(async move {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                for _ in 0..(64 * MIB / chunk.len()) {
                    if tx.send(chunk.clone()).await.is_err() {
                        return;
                    }
                }
                done.store(true, Ordering::SeqCst);
            });
            Response::new(body)
        })
    }))
    .await;
    let s = settings(&format!("http://{}", upstream.addr));
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    let mut body = send(&client, &s, request("/manifest.json"))
        .await
        .unwrap()
        .into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(!first.is_empty());
    assert!(
        !finished.load(Ordering::SeqCst),
        "the upstream finished writing before the first bytes arrived"
    );
    let mut total = first.len();
    while let Some(frame) = body.frame().await {
        total += frame.unwrap().into_data().map_or(0, |d| d.len());
    }
    assert_eq!(total, 64 * MIB);
    assert!(finished.load(Ordering::SeqCst));
}

/// An upstream that sends a chunk every 10 ms until its client goes away, then says so.
fn endless(gone: Arc<Notify>) -> Handler {
    Arc::new(move |_req| {
        let gone = gone.clone();
        Box::pin(async move {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                loop {
                    if tx.send(Bytes::from_static(&[b'y'; 1024])).await.is_err() {
                        gone.notify_one();
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            });
            Response::new(body)
        })
    })
}

/// An upstream that sends its response head and then nothing until its client goes away.
fn silent() -> Handler {
    Arc::new(|_req| {
        Box::pin(async {
            let (tx, body) = channel_body();
            tokio::spawn(async move { tx.closed().await });
            Response::new(body)
        })
    })
}

#[tokio::test]
async fn cancel_cuts_an_in_flight_download_and_its_upstream_connection() {
    let upstream_gone = Arc::new(Notify::new());
    let upstream = spawn_upstream(endless(upstream_gone.clone())).await;
    let s = settings(&format!("http://{}", upstream.addr));
    let cancel = StreamCancel::new();
    let front = spawn_front(
        UpstreamClient::new(&s, &limits()).unwrap(),
        s,
        cancel.clone(),
    )
    .await;

    let mut response = reqwest::get(format!("http://{front}/download"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for _ in 0..3 {
        assert!(response.chunk().await.unwrap().is_some());
    }
    cancel.cancel();
    // The upstream never stops sending: only the cut ends the download.
    let ended = tokio::time::timeout(GUARD, async {
        loop {
            match response.chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => break "clean end",
                Err(_) => break "error",
            }
        }
    })
    .await
    .expect("the download was not cut");
    assert_eq!(ended, "error", "a cut download must not look complete");

    // The upstream connection is closed too: its sender sees the receiver go.
    tokio::time::timeout(GUARD, upstream_gone.notified())
        .await
        .expect("the upstream connection stayed open");
}

async fn spawn_websocket_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn websockets_echo_through_forward_and_cancel_closes_them() {
    let upstream = spawn_websocket_echo().await;
    let s = settings(&format!("http://{upstream}"));
    let cancel = StreamCancel::new();
    let front = spawn_front(
        UpstreamClient::new(&s, &limits()).unwrap(),
        s,
        cancel.clone(),
    )
    .await;

    let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://{front}/socket"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    for text in ["hello", "again"] {
        ws.send(Message::text(text)).await.unwrap();
        let echoed = tokio::time::timeout(GUARD, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echoed, Message::text(text));
    }

    cancel.cancel();
    // The socket ends (a close frame at most, then the end or an error) with no data.
    let ended = tokio::time::timeout(GUARD, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) => continue,
                Some(Ok(data)) => break Err(data),
                None | Some(Err(_)) => break Ok(()),
            }
        }
    })
    .await
    .expect("the websocket stayed open after cancel");
    assert!(ended.is_ok(), "a message after cancel: {ended:?}");
}

#[tokio::test]
async fn an_upstream_that_never_answers_times_out_at_the_response_timeout() {
    let (received_tx, mut received) = mpsc::channel::<()>(1);
    let upstream = spawn_upstream(Arc::new(move |_req| {
        let received_tx = received_tx.clone();
        Box::pin(async move {
            let _ = received_tx.send(()).await;
            std::future::pending::<Response<Body>>().await
        })
    }))
    .await;
    let mut s = settings(&format!("http://{}", upstream.addr));
    s.response_timeout = Duration::from_secs(60);
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    let started = tokio::time::Instant::now();
    let exchange = tokio::spawn({
        let s = s.clone();
        async move { send(&client, &s, request("/slow")).await }
    });
    // In real time until the request is at the upstream; from then on the clock only
    // moves when every task waits, straight to the next timer.
    received.recv().await.unwrap();
    tokio::time::pause();
    let error = exchange.await.unwrap().unwrap_err();
    assert!(matches!(error, ProxyError::ResponseTimeout), "{error:?}");
    assert!(started.elapsed() >= s.response_timeout, "gave up early");
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let s = settings(&format!("http://{addr}"));
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    let error = send(&client, &s, request("/")).await.unwrap_err();
    assert!(matches!(error, ProxyError::UpstreamConnect(_)), "{error:?}");
}

#[tokio::test]
async fn max_concurrency_queues_then_sheds_at_the_response_timeout() {
    let held_handler = silent();
    let echo_handler = echo();
    let upstream = spawn_upstream(Arc::new(move |req| {
        if req.uri().path() == "/hold" {
            held_handler(req)
        } else {
            echo_handler(req)
        }
    }))
    .await;
    let mut s = settings(&format!("http://{}", upstream.addr));
    s.max_concurrency = Some(1);
    s.response_timeout = Duration::from_secs(60);
    // The held body, never read, is not cut for idleness while the test runs.
    s.stream_idle_timeout = Some(Duration::from_secs(3600));
    let client = UpstreamClient::new(&s, &limits()).unwrap();

    // The permit lives as long as the held response's body.
    let held = send(&client, &s, request("/hold")).await.unwrap();
    assert_eq!(client.available_permits(), Some(0));
    // Paused, the clock moves only when every task waits, straight to the next timer:
    // the queued request gives up at the response timeout, not before.
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let error = send(&client, &s, request("/quick")).await.unwrap_err();
    assert!(matches!(error, ProxyError::Overloaded), "{error:?}");
    assert!(started.elapsed() >= s.response_timeout, "gave up early");
    tokio::time::resume();

    // A waiting request gets the permit as soon as the held body is dropped.
    let waiting = tokio::spawn({
        let (client, s) = (client.clone(), s.clone());
        async move {
            send(&client, &s, request("/quick"))
                .await
                .map(|r| r.status())
        }
    });
    // It is queued for the permit (its own timeout is far off), not finished.
    settle().await;
    assert!(!waiting.is_finished());
    drop(held);
    assert_eq!(waiting.await.unwrap().unwrap(), StatusCode::OK);
    assert_eq!(client.available_permits(), Some(1));
}

#[tokio::test]
async fn a_safe_request_crossing_an_idle_close_is_sent_once_more_and_a_post_is_not() {
    let (base, connections) = crate::outbound::testing::closing_server(1).await;
    let s = settings(&base);
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    assert_eq!(
        seen(send(&client, &s, request("/a")).await.unwrap()).await,
        json!({})
    );
    settle().await;
    // The kept-alive connection is reused and closed under the GET: it goes again
    // on a new connection, which answers.
    assert_eq!(
        seen(send(&client, &s, request("/b")).await.unwrap()).await,
        json!({})
    );
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    settle().await;
    // A POST is never sent twice: the same close fails it (502 through gate::error).
    let mut post = request("/c");
    *post.method_mut() = http::Method::POST;
    let error = send(&client, &s, post).await.unwrap_err();
    assert!(matches!(error, ProxyError::Upstream(_)), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_upstream_that_never_answers_a_get_gets_two_tries() {
    let (base, connections) = crate::outbound::testing::closing_server(0).await;
    let s = settings(&base);
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    let error = send(&client, &s, request("/")).await.unwrap_err();
    assert!(matches!(error, ProxyError::Upstream(_)), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_get_with_a_body_or_on_a_route_without_keep_alive_gets_one_try() {
    let (base, connections) = crate::outbound::testing::closing_server(0).await;
    let s = settings(&base);
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    let mut with_body = request("/");
    *with_body.body_mut() = Body::from("x");
    let error = send(&client, &s, with_body).await.unwrap_err();
    assert!(matches!(error, ProxyError::Upstream(_)), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    let mut s = settings(&base);
    s.keep_alive = false;
    let client = UpstreamClient::new(&s, &limits()).unwrap();
    let error = send(&client, &s, request("/")).await.unwrap_err();
    assert!(matches!(error, ProxyError::Upstream(_)), "{error:?}");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}
