//! Connection bounds of the main listener (`server:`): connections that never say which
//! protocol they speak, idle HTTP/1 and HTTP/2 connections (and busy ones left open),
//! the connection cap (with the ops listener still answering), a download the client
//! stops reading, which must give its route's `max_concurrency` slot back to a waiting
//! user, an upload the client stops sending (408, connection closed, slot released)
//! and a request head that stops arriving (closed without a response).
//!
//! Every wait is on an event (a socket closing, a status, a gauge); the outer timeouts
//! only keep a failing run from hanging.

use std::time::Duration;

use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use scimgate::metrics::connections::CloseReason;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy_env::{reader, Env};
use crate::support;

/// Long enough that only a broken server reaches it.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Reads until the server closes the connection; returns the bytes read.
async fn read_until_closed(tcp: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let closed = tokio::time::timeout(HANG_GUARD, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server never closed the connection");
    total
}

/// Reads until the server closes the connection; returns what was read (at most 64 KiB).
async fn response_until_closed(tcp: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(HANG_GUARD, async {
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) if got.len() < 64 * 1024 => got.extend_from_slice(&buf[..n]),
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&got).into_owned()
}

/// Waits until `check` holds (polled on a short period, bounded by [`HANG_GUARD`]).
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + HANG_GUARD;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A keep-alive HTTP/1.1 request for `/healthz` on `tcp`; returns the status line.
async fn healthz_on(tcp: &mut TcpStream) -> String {
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: gate.test\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\nok\n") {
        let n = tcp.read(&mut byte).await.unwrap();
        assert_eq!(
            n,
            1,
            "connection closed early: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn silent_connections_and_partial_h2_prefaces_are_closed_after_detection() {
    let gate = support::start("server:\n  detect_timeout_seconds: 0.3\n").await;
    let metrics = gate.running.metrics.clone();

    let mut silent = TcpStream::connect(gate.running.addr).await.unwrap();
    let mut partial = TcpStream::connect(gate.running.addr).await.unwrap();
    partial.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await, 0);
    assert_eq!(read_until_closed(&mut partial).await, 0);
    until("both closures counted", || {
        metrics.connections.closed_count(CloseReason::Detect) >= 2
    })
    .await;

    // A client that speaks is not affected.
    let mut talker = TcpStream::connect(gate.running.addr).await.unwrap();
    assert_eq!(healthz_on(&mut talker).await, "HTTP/1.1 200 OK");

    let ops = gate.running.ops_addr.unwrap();
    let text = reqwest::get(format!("http://{ops}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("scimgate_connections_closed_total{reason=\"detect\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn an_idle_h2_connection_is_closed_after_its_idle_timeout() {
    let gate = support::start("server:\n  http2_idle_timeout_seconds: 0.3\n").await;
    let tcp = TcpStream::connect(gate.running.addr).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    let req = http::Request::builder()
        .uri(format!("http://{}/healthz", gate.running.addr))
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    // The server sends GOAWAY and closes: the client's connection task ends.
    let ended = tokio::time::timeout(HANG_GUARD, driver).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection was never closed");
    assert!(
        gate.running
            .metrics
            .connections
            .closed_count(CloseReason::Http2Idle)
            >= 1
    );
}

/// Waits until an HTTP/1 idle close has been counted.
async fn http1_idle_close_counted(metrics: &scimgate::metrics::Metrics) {
    until("the idle close counted", || {
        metrics.connections.closed_count(CloseReason::Http1Idle) >= 1
    })
    .await;
}

#[tokio::test]
async fn an_http1_connection_in_use_stays_open_and_closes_once_idle_for_its_timeout() {
    let gate = support::start("server:\n  http1_idle_timeout_seconds: 0.4\n").await;
    let metrics = gate.running.metrics.clone();
    let mut tcp = TcpStream::connect(gate.running.addr).await.unwrap();

    // Requests closer together than the idle timeout, over several of its lengths:
    // the connection is never closed under them.
    let started = tokio::time::Instant::now();
    let mut last;
    loop {
        assert_eq!(healthz_on(&mut tcp).await, "HTTP/1.1 200 OK");
        last = tokio::time::Instant::now();
        if started.elapsed() >= Duration::from_millis(1500) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metrics.connections.closed_count(CloseReason::Http1Idle), 0);

    // Then idle: closed, no sooner than the timeout after the last response (less a
    // margin: the server counts from the end of the response, before it was read here).
    assert_eq!(read_until_closed(&mut tcp).await, 0);
    assert!(
        last.elapsed() >= Duration::from_millis(300),
        "closed {:?} after the last response",
        last.elapsed()
    );
    http1_idle_close_counted(&metrics).await;
}

/// A new connection to the gate with `user`'s GET of `target` on `host` written on it.
async fn get_on_a_new_connection(env: &Env, host: &str, target: &str, user: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(env.addr()).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\r\n",
        env.iss.token(user)
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    tcp
}

#[tokio::test]
async fn a_request_in_flight_longer_than_the_idle_timeout_is_answered() {
    let env = Env::start("server:\n  http1_idle_timeout_seconds: 0.3\n").await;
    reader(&env, "ivy").await;
    let mut tcp = get_on_a_new_connection(&env, "loose.test", "/delay?ms=1200", "ivy").await;
    // The response comes after four idle timeouts' worth of waiting; then the
    // connection, idle, is closed.
    let response = response_until_closed(&mut tcp).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("answered after 1200 ms"), "{response}");
    http1_idle_close_counted(&env.gate.running.metrics).await;
}

#[tokio::test]
async fn at_the_cap_new_connections_are_refused_while_ops_answers() {
    let gate = support::start("server:\n  max_connections: 3\n").await;
    let addr = gate.running.addr;
    let connections = gate.running.metrics.connections.clone();
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        assert_eq!(healthz_on(&mut tcp).await, "HTTP/1.1 200 OK");
        held.push(tcp);
    }
    // The fourth is accepted by the kernel, then closed by the server unanswered.
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    let _ = fourth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gate.test\r\n\r\n")
        .await;
    assert_eq!(read_until_closed(&mut fourth).await, 0);

    // Health and metrics still answer on the operations listener.
    let ops = gate.running.ops_addr.unwrap();
    let health = reqwest::get(format!("http://{ops}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let text = reqwest::get(format!("http://{ops}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("scimgate_connections_refused_total 1"),
        "{text}"
    );
    assert!(text.contains("scimgate_connections_open 3"), "{text}");
    assert!(text.contains("scimgate_connections_max 3"), "{text}");

    // Once one closes, a new connection is served.
    drop(held.pop());
    until("the closed connection's slot is free", || {
        connections.open_now() == 2
    })
    .await;
    let mut next = TcpStream::connect(addr).await.unwrap();
    assert_eq!(healthz_on(&mut next).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn a_stalled_download_gives_its_slot_to_a_waiting_user() {
    let env = narrow_route("stream_idle").await;
    reader(&env, "stella").await;
    reader(&env, "wanda").await;

    // Stella opens a large download, reads its head, then reads nothing more.
    let mut stalled = get_on_a_new_connection(&env, "narrow.test", "/big?mib=256", "stella").await;
    let mut head = [0u8; 12];
    stalled.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    // Wanda waits for the only slot, and is served once the stalled stream is cut.
    let waiting = env
        .get("narrow.test", "/doc.json", Some("wanda"))
        .timeout(HANG_GUARD)
        .send()
        .await
        .unwrap();
    assert_eq!(waiting.status(), 200);

    // The stalled connection was closed before the whole body went through.
    let received = read_until_closed(&mut stalled).await;
    assert!(received < 256 << 20, "received {received} bytes");
    assert!(
        env.gate
            .running
            .metrics
            .connections
            .closed_count(CloseReason::StreamIdle)
            >= 1
    );
}

#[tokio::test]
async fn a_silent_websocket_is_closed_and_gives_its_slot_back() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;

    let env = narrow_route("websocket_idle").await;
    reader(&env, "sam").await;
    reader(&env, "wanda").await;
    let mut req = format!("ws://{}/ws", env.addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("host", "narrow.test".parse().unwrap());
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", env.iss.token("sam")).parse().unwrap(),
    );
    let (mut ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), 101);
    ws.send(Message::text("ping")).await.unwrap();
    let echoed = ws.next().await.unwrap().unwrap();
    assert_eq!(echoed.into_text().unwrap().as_str(), "ping");

    // Sam goes quiet; the tunnel is closed and Wanda gets the slot.
    let closed = tokio::time::timeout(HANG_GUARD, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the silent websocket stayed open");
    let waiting = env
        .get("narrow.test", "/doc.json", Some("wanda"))
        .timeout(HANG_GUARD)
        .send()
        .await
        .unwrap();
    assert_eq!(waiting.status(), 200);
    assert!(
        env.gate
            .running
            .metrics
            .connections
            .closed_count(CloseReason::WebsocketIdle)
            >= 1
    );
}

#[tokio::test]
async fn a_stalled_upload_gets_408_and_gives_its_slot_back() {
    let env = narrow_route("stream_idle").await;
    reader(&env, "ulla").await;
    reader(&env, "wanda").await;

    // Ulla announces 1000 bytes, sends 100, then nothing more.
    let mut stalled = TcpStream::connect(env.addr()).await.unwrap();
    let head = format!(
        "POST /sink HTTP/1.1\r\nHost: narrow.test\r\nAuthorization: Bearer {}\r\nContent-Length: 1000\r\n\r\n",
        env.iss.token("ulla")
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(&[b'x'; 100]).await.unwrap();

    // The client's fault: 408, and the connection is closed (the rest of the body will
    // never be read).
    let response = response_until_closed(&mut stalled).await;
    assert!(
        response.starts_with("HTTP/1.1 408 "),
        "{}",
        response.lines().next().unwrap_or_default()
    );
    assert!(
        response
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{response}"
    );
    assert!(
        env.gate
            .running
            .metrics
            .connections
            .closed_count(CloseReason::StreamIdle)
            >= 1
    );

    // The route's only slot is free again: Wanda is served (a held slot would make her
    // wait out the 30 s response timeout and get 503).
    let served = env
        .get("narrow.test", "/doc.json", Some("wanda"))
        .timeout(HANG_GUARD)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn a_request_head_past_header_read_timeout_is_closed_without_a_response() {
    let gate = support::start("server:\n  header_read_timeout_seconds: 0.3\n").await;
    let metrics = gate.running.metrics.clone();
    let mut slow = TcpStream::connect(gate.running.addr).await.unwrap();
    // The protocol is known (HTTP/1), the head never ends.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: gate.test\r\n")
        .await
        .unwrap();
    assert_eq!(response_until_closed(&mut slow).await, "");
    until("the closure counted as header_read", || {
        metrics.connections.closed_count(CloseReason::HeaderRead) >= 1
    })
    .await;
}

/// A server whose one route, `narrow.test`, has a single concurrency slot and the idle
/// timeout `idle` (`stream_idle` or `websocket_idle`) at 300 ms.
async fn narrow_route(idle: &str) -> Env {
    let up = crate::upstream::start().await;
    let iss = crate::issuer::Issuer::start().await;
    let policy = format!(
        r#"routes:
  - name: narrow
    match: {{ host: narrow.test, path: /** }}
    upstream: {}
    max_concurrency: 1
    timeouts: {{ response: 30s, {idle}: 300ms }}
    allow:
      - {{ groups: [readers] }}
"#,
        up.url()
    );
    Env::start_with(up, iss, "", Some(policy)).await
}
