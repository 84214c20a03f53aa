//! Hostile connections against the release binary, started under a 1,024-descriptor
//! limit (`prlimit --nofile=1024:1024`), loopback only:
//!
//! ```text
//! cargo bench --bench hostile_conn                 # everything
//! cargo bench --bench hostile_conn -- idle         # 10,000 connections of each kind
//! cargo bench --bench hostile_conn -- slow-readers # stalled downloads vs max_concurrency
//! ```
//!
//! `idle`: for each kind (silent; a partial HTTP/2 preface; an idle HTTP/1 keep-alive
//! connection after one request; an idle HTTP/2 connection after one request),
//! 10,000 connections are opened (at most `IN_FLIGHT` at once) and held until the server
//! closes them, while the ops listener's `/healthz` is asked every 50 ms. Figures: health
//! failures and slowest answer, connections refused at the cap and closed by each
//! timeout (from the server's `/metrics`), the longest a served connection stayed open
//! against its configured timeout, the server's peak RSS (VmHWM), and whether the main
//! listener serves afterwards.
//!
//! A client connection is never waited on forever. A connect not answered within
//! [`CONNECT_TIMEOUT`] counts as `connect_timeouts`. A connection still open
//! [`STILL_OPEN_AFTER`] past its timeout is held until every other one has settled, then
//! the server's `scimgate_connections_open` gauge and its listener's accept queue say
//! whose it is: open on the server means the server kept it past its timeout (target
//! NOT MET); on neither means the server never accepted it: the kernel completed the
//! handshake on the client's side and dropped it on the server's (a full accept queue,
//! typically with SYN cookies), which a client that sends nothing never learns. Those are
//! reported as `never_accepted`, with the kernel's own counters (system-wide deltas of
//! `ListenOverflows` and `SyncookiesSent` from /proc/net/netstat). A set-aside
//! connection found closed when checked was closed by the server and noticed late by
//! the client; it counts as served, held as long as the client saw it.
//! `slow-readers`: as many stalled downloads as the route's `max_concurrency`, then a
//! user who waits for a slot; the figure is how long the user waited, against the
//! route's `stream_idle` timeout.
//!
//! `HOSTILE_LISTEN_BACKLOG=<n>` runs the server with `server.listen_backlog: <n>`.
//!
//! Lines are printed as `hostile <metric> <value> <unit> (target ...: met|NOT MET)`.

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/issuer.rs"]
mod issuer;
#[allow(dead_code)]
mod load;
#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/upstream.rs"]
mod upstream;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use scimgate::store::{SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

const BENCHES: &[&str] = &["idle", "slow-readers"];
/// Connections opened per kind.
const PER_KIND: usize = 10_000;
/// Connections the client holds open at once.
const IN_FLIGHT: usize = 2_000;
/// The server's descriptor limit.
const SERVER_NOFILE: u64 = 1024;
/// The short timeouts the server runs with (seconds).
const DETECT_S: f64 = 2.0;
const IDLE_S: f64 = 2.0;
const STREAM_IDLE_S: f64 = 2.0;
/// How late a closure may be against its timeout (timer and scheduling slack).
const SLACK: Duration = Duration::from_millis(500);
/// The route's max_concurrency in `slow-readers`.
const SLOTS: usize = 4;
/// A bound on any single wait, so that a broken server ends the run.
const GUARD: Duration = Duration::from_secs(120);
/// How long a connect may take: the kernel retransmits an unanswered SYN after 1, 3, 7
/// and 15 s; a connect still unanswered after those is one the server's queue dropped.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(16);
/// A connection still open this long after its timeout (plus [`SLACK`]) is set aside
/// and classified (see the module doc) instead of being waited on.
const STILL_OPEN_AFTER: Duration = Duration::from_secs(3);
const SCIM_JSON: &str = "application/scim+json";

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

/// The server process and what it serves.
struct Server {
    process: load::ServerProcess,
    ops: String,
    main: std::net::SocketAddr,
    iss: issuer::Issuer,
    _up: upstream::Upstream,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start(bin: &Path) -> anyhow::Result<Server> {
        let up = upstream::start().await;
        let iss = issuer::Issuer::start().await;
        let dir = tempfile::tempdir()?;
        let policies = dir.path().join("policies");
        std::fs::create_dir_all(&policies)?;
        std::fs::write(
            policies.join("bench.yaml"),
            format!(
                "routes:\n  - name: narrow\n    match: {{ host: narrow.bench, path: /** }}\n    upstream: {}\n    max_concurrency: {SLOTS}\n    timeouts: {{ response: 120s, stream_idle: {}ms }}\n    allow:\n      - {{ groups: [readers] }}\n",
                up.url(),
                (STREAM_IDLE_S * 1000.0) as u64
            ),
        )?;
        let store = SqliteStore::open(&dir.path().join("scimgate.db"))?;
        let (scim_token, row) = tokens::issue("bench", TokenScope::Scim, 0);
        store.token_insert(&row)?;
        drop(store);
        let port = free_port()?;
        let ops_port = free_port()?;
        let config = dir.path().join("gate.yaml");
        // `HOSTILE_LISTEN_BACKLOG=128` reproduces the accept queue tokio's default bind
        // gives (the server's default is larger).
        let backlog = match std::env::var("HOSTILE_LISTEN_BACKLOG") {
            Ok(n) => format!("  listen_backlog: {}\n", n.trim().parse::<u32>()?),
            Err(_) => String::new(),
        };
        std::fs::write(
            &config,
            format!(
                "{}listen: 127.0.0.1:{port}\ndata_dir: {}\npolicies: {}\nops:\n  listen: 127.0.0.1:{ops_port}\nserver:\n  detect_timeout_seconds: {DETECT_S}\n  http1_idle_timeout_seconds: {IDLE_S}\n  http2_idle_timeout_seconds: {IDLE_S}\n{backlog}",
                iss.config(),
                dir.path().display(),
                policies.display()
            ),
        )?;
        let log = dir.path().join("server.log");
        let child = Command::new("prlimit")
            .arg(format!("--nofile={SERVER_NOFILE}:{SERVER_NOFILE}"))
            .arg("--")
            .arg(bin)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env_remove("SCIMGATE_CONFIG")
            .env("RUST_LOG", "warn,scimgate::server=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting the server under prlimit")?;
        let mut process = load::ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        load::wait_ready(&mut process, Instant::now()).await?;
        let server = Server {
            process,
            ops: format!("http://127.0.0.1:{ops_port}"),
            main: format!("127.0.0.1:{port}").parse()?,
            iss,
            _up: up,
            _dir: dir,
        };
        server.provision(&scim_token).await?;
        Ok(server)
    }

    /// Users `reader-0..` and `waiter` in group `readers`.
    async fn provision(&self, token: &str) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let mut ids = Vec::new();
        let names: Vec<String> = (0..SLOTS)
            .map(|i| format!("reader-{i}"))
            .chain(["waiter".to_owned()])
            .collect();
        for name in &names {
            let r: serde_json::Value = http
                .post(format!("{}/scim/v2/Users", self.process.base))
                .bearer_auth(token)
                .header("content-type", SCIM_JSON)
                .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true}).to_string())
                .send()
                .await?
                .json()
                .await?;
            ids.push(json!({"value": r["id"]}));
        }
        let status = http
            .post(format!("{}/scim/v2/Groups", self.process.base))
            .bearer_auth(token)
            .header("content-type", SCIM_JSON)
            .body(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "readers", "members": ids}).to_string())
            .send()
            .await?
            .status();
        if !status.is_success() {
            bail!("creating the group: {status}");
        }
        Ok(())
    }

    /// A counter or gauge from `/metrics` (0 when absent).
    async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = reqwest::get(format!("{}/metrics", self.ops))
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0))
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Silent,
    PartialPreface,
    Http1Idle,
    Http2Idle,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Silent => "silent",
            Kind::PartialPreface => "partial_h2_preface",
            Kind::Http1Idle => "idle_http1",
            Kind::Http2Idle => "idle_http2",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Kind::Silent | Kind::PartialPreface => "detect",
            Kind::Http1Idle => "http1_idle",
            Kind::Http2Idle => "http2_idle",
        }
    }

    fn timeout(self) -> Duration {
        match self {
            Kind::Silent | Kind::PartialPreface => Duration::from_secs_f64(DETECT_S),
            Kind::Http1Idle | Kind::Http2Idle => Duration::from_secs_f64(IDLE_S),
        }
    }
}

/// Reads until the peer closes; the number of bytes read.
async fn until_closed(tcp: &mut TcpStream) -> usize {
    let mut buf = [0u8; 4096];
    let mut total = 0;
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

/// How one hostile connection ended.
enum Outcome {
    /// The server served it and closed it `held` after the client's last byte.
    Served(Duration),
    /// Closed at once: refused at the cap.
    Refused,
    /// The connect was not answered within [`CONNECT_TIMEOUT`].
    ConnectTimeout,
    /// Still open [`STILL_OPEN_AFTER`] past the timeout; held until `release`.
    StillOpen,
    /// Set aside as still open, but found closed by the server at the release: the
    /// client (busy with thousands of sockets) noticed the closure late. `held` is as
    /// the client saw it.
    ClosedLate(Duration),
    /// A client-side error (connect refused, reset before the exchange).
    Error,
    /// The one request of an idle kind had no answer within [`GUARD`].
    Unanswered,
}

/// Reads until the peer closes or `deadline`; whether it closed.
async fn closed_by(tcp: &mut TcpStream, deadline: Instant) -> bool {
    tokio::time::timeout_at(deadline.into(), until_closed(tcp))
        .await
        .is_ok()
}

/// One hostile connection, holding `permit` (one of the client's connections in
/// flight) while it runs. A connection still open [`STILL_OPEN_AFTER`] past its
/// timeout gives the permit back, bumps `settled` and is held (socket open) until
/// `release` is cancelled, so that the server's view can be taken while it is open.
async fn one(
    kind: Kind,
    addr: std::net::SocketAddr,
    permit: tokio::sync::OwnedSemaphorePermit,
    settled: Arc<AtomicU64>,
    release: tokio_util::sync::CancellationToken,
) -> Outcome {
    let give_up = kind.timeout() + SLACK + STILL_OPEN_AFTER;
    let mut tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(_)) => return Outcome::Error,
        Err(_) => return Outcome::ConnectTimeout,
    };
    let quiet_from;
    match kind {
        Kind::Silent => quiet_from = Instant::now(),
        Kind::PartialPreface => {
            if tcp.write_all(b"PRI * HTTP/2.0\r\n").await.is_err() {
                return Outcome::Error;
            }
            quiet_from = Instant::now();
        }
        Kind::Http1Idle => {
            let _ = tcp
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                .await;
            let answered = tokio::time::timeout(GUARD, async {
                let mut got = Vec::new();
                let mut buf = [0u8; 512];
                while !got.ends_with(b"ok\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return false,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                true
            })
            .await;
            match answered {
                Ok(true) => {}
                Ok(false) => return Outcome::Refused,
                Err(_) => return Outcome::Unanswered,
            }
            quiet_from = Instant::now();
        }
        Kind::Http2Idle => {
            let handshake =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp));
            let (mut send, conn) = match tokio::time::timeout(GUARD, handshake).await {
                Ok(Ok(pair)) => pair,
                Ok(Err(_)) => return Outcome::Refused,
                Err(_) => return Outcome::Unanswered,
            };
            let mut driver = tokio::spawn(conn);
            let Ok(req) = http::Request::builder()
                .uri(format!("http://{addr}/healthz"))
                .body(http_body_util::Empty::<bytes::Bytes>::new())
            else {
                return Outcome::Error;
            };
            match tokio::time::timeout(GUARD, send.send_request(req)).await {
                Ok(Ok(r)) if r.status() == 200 => {}
                Ok(_) => return Outcome::Refused,
                Err(_) => return Outcome::Unanswered,
            }
            let quiet = Instant::now();
            if tokio::time::timeout(give_up, &mut driver).await.is_ok() {
                return Outcome::Served(quiet.elapsed());
            }
            drop(permit);
            settled.fetch_add(1, Ordering::Relaxed);
            release.cancelled().await;
            // Closed by the server before the release, but the client had not noticed.
            if tokio::time::timeout(Duration::from_millis(100), &mut driver)
                .await
                .is_ok()
            {
                return Outcome::ClosedLate(quiet.elapsed());
            }
            driver.abort();
            return Outcome::StillOpen;
        }
    }
    let started = Instant::now();
    if !closed_by(&mut tcp, quiet_from + give_up).await {
        drop(permit);
        settled.fetch_add(1, Ordering::Relaxed);
        release.cancelled().await;
        // Closed by the server before the release, but the client had not noticed.
        let mut byte = [0u8; 1];
        return match tcp.try_read(&mut byte) {
            Ok(0) => Outcome::ClosedLate(quiet_from.elapsed()),
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {
                Outcome::ClosedLate(quiet_from.elapsed())
            }
            _ => Outcome::StillOpen,
        };
    }
    // Closed at once: refused at the cap.
    if matches!(kind, Kind::Silent | Kind::PartialPreface) && started.elapsed() < kind.timeout() / 2
    {
        return Outcome::Refused;
    }
    Outcome::Served(quiet_from.elapsed())
}

/// The kernel's counters of dropped handshakes (system-wide, /proc/net/netstat).
fn kernel_counters() -> [u64; 2] {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = [0; 2];
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        if !names.starts_with("TcpExt:") {
            continue;
        }
        for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
            match name {
                "ListenOverflows" => out[0] = value.parse().unwrap_or(0),
                "SyncookiesSent" => out[1] = value.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    out
}

/// The main listener's accept queue as `ss -ltn` shows it: (queued now, backlog).
fn accept_queue(port: u16) -> Option<(u64, u64)> {
    let out = Command::new("ss")
        .args(["-Hltn", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace().skip(1);
    let queued = fields.next()?.parse().ok()?;
    let backlog = fields.next()?.parse().ok()?;
    Some((queued, backlog))
}

async fn idle(server: &Server) -> anyhow::Result<()> {
    for kind in [
        Kind::Silent,
        Kind::PartialPreface,
        Kind::Http1Idle,
        Kind::Http2Idle,
    ] {
        let refused_before = server.metric("scimgate_connections_refused_total").await?;
        let closed_name = format!(
            "scimgate_connections_closed_total{{reason=\"{}\"}}",
            kind.reason()
        );
        let closed_before = server.metric(&closed_name).await?;
        // Health, asked every 50 ms while the connections are opened and held.
        let failures = Arc::new(AtomicU64::new(0));
        let slowest_us = Arc::new(AtomicU64::new(0));
        let asked = Arc::new(AtomicU64::new(0));
        let stop = tokio_util::sync::CancellationToken::new();
        let prober = {
            let (failures, slowest_us, asked, stop) = (
                failures.clone(),
                slowest_us.clone(),
                asked.clone(),
                stop.clone(),
            );
            let url = format!("{}/healthz", server.ops);
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap_or_default();
                while !stop.is_cancelled() {
                    let t = Instant::now();
                    let ok = matches!(http.get(&url).send().await, Ok(r) if r.status() == 200);
                    asked.fetch_add(1, Ordering::Relaxed);
                    if !ok {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    slowest_us.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let kernel_before = kernel_counters();
        let started = Instant::now();
        let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let settled = Arc::new(AtomicU64::new(0));
        let release = tokio_util::sync::CancellationToken::new();
        let mut tasks = Vec::with_capacity(PER_KIND);
        for _ in 0..PER_KIND {
            let permit = gate.clone().acquire_owned().await?;
            let addr = server.main;
            let (settled, release) = (settled.clone(), release.clone());
            tasks.push(tokio::spawn(async move {
                let outcome = one(kind, addr, permit, settled.clone(), release).await;
                if !matches!(outcome, Outcome::StillOpen) {
                    settled.fetch_add(1, Ordering::Relaxed);
                }
                outcome
            }));
        }
        // Every connection has ended or been set aside as still open: take the
        // server's view while the set-aside ones are still open on the client's side.
        let settle_deadline = Instant::now() + GUARD;
        while settled.load(Ordering::Relaxed) < PER_KIND as u64 && Instant::now() < settle_deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let elapsed = started.elapsed();
        let mut server_open = server.metric("scimgate_connections_open").await?;
        let open_deadline = Instant::now() + SLACK;
        while server_open > 0.0 && Instant::now() < open_deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            server_open = server.metric("scimgate_connections_open").await?;
        }
        let queue = accept_queue(server.main.port());
        release.cancel();
        let mut served = 0usize;
        let mut errors = 0usize;
        let mut connect_timeouts = 0usize;
        let mut still_open = 0usize;
        let mut unanswered = 0usize;
        let mut noticed_late = 0usize;
        let mut longest = Duration::ZERO;
        for t in tasks {
            match t.await? {
                Outcome::Served(held) => {
                    served += 1;
                    longest = longest.max(held);
                }
                Outcome::Refused => {}
                Outcome::ConnectTimeout => connect_timeouts += 1,
                Outcome::StillOpen => still_open += 1,
                Outcome::ClosedLate(held) => {
                    served += 1;
                    noticed_late += 1;
                    longest = longest.max(held);
                }
                Outcome::Error => errors += 1,
                Outcome::Unanswered => unanswered += 1,
            }
        }
        let kernel_after = kernel_counters();
        stop.cancel();
        let _ = prober.await;
        let refused = server.metric("scimgate_connections_refused_total").await? - refused_before;
        let closed = server.metric(&closed_name).await? - closed_before;
        let pid = server.process.child.id();
        let hwm = load::proc_status_bytes(pid, "VmHWM")? as f64 / (1 << 20) as f64;
        let main_ok = {
            let mut tcp = TcpStream::connect(server.main).await?;
            tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                .await?;
            let mut text = String::new();
            let _ = tcp.read_to_string(&mut text).await;
            text.starts_with("HTTP/1.1 200")
        };
        let k = kind.name();
        let f = failures.load(Ordering::Relaxed);
        println!(
            "hostile {k}_healthz_failures {f} of {} (target 0: {})",
            asked.load(Ordering::Relaxed),
            met(f == 0)
        );
        println!(
            "hostile {k}_healthz_slowest {:.1} ms",
            slowest_us.load(Ordering::Relaxed) as f64 / 1000.0
        );
        println!(
            "hostile {k}_opened {PER_KIND} connections in {:.1} s",
            elapsed.as_secs_f64()
        );
        println!(
            "hostile {k}_served {served} connections ({noticed_late} of them seen closed by the client only when checked, {:.1} s after the timeout)",
            (SLACK + STILL_OPEN_AFTER).as_secs_f64()
        );
        println!("hostile {k}_refused_at_cap {refused} connections");
        println!(
            "hostile {k}_closed_by_{} {closed} connections",
            kind.reason()
        );
        println!("hostile {k}_client_errors {errors} connections");
        println!(
            "hostile {k}_unanswered {unanswered} connections (request unanswered for {} s) (target 0: {})",
            GUARD.as_secs(),
            met(unanswered == 0)
        );
        println!("hostile {k}_connect_timeouts {connect_timeouts} connections (connect unanswered for {} s)", CONNECT_TIMEOUT.as_secs());
        // Set-aside connections are the server's as far as it still has connections open
        // (or queued to accept); the rest the server never had.
        let queued = queue.map_or(0, |(q, _)| q);
        let held_by_server = (server_open as usize + queued as usize).min(still_open);
        let never_accepted = still_open - held_by_server;
        println!(
            "hostile {k}_never_accepted {never_accepted} connections (open on the client {:.1} s past the timeout, unknown to the server; kernel ListenOverflows +{}, SyncookiesSent +{} system-wide) (target 0: {})",
            (SLACK + STILL_OPEN_AFTER).as_secs_f64(),
            kernel_after[0].saturating_sub(kernel_before[0]),
            kernel_after[1].saturating_sub(kernel_before[1]),
            met(never_accepted == 0)
        );
        println!(
            "hostile {k}_server_held_past_timeout {held_by_server} connections (server open {server_open}, accept queue {queued}, client sockets still open {still_open}) (target 0: {})",
            met(held_by_server == 0)
        );
        let limit = kind.timeout() + SLACK;
        println!(
            "hostile {k}_longest_held {:.2} s (target <= {:.1} s timeout + {:.1} s: {})",
            longest.as_secs_f64(),
            kind.timeout().as_secs_f64(),
            SLACK.as_secs_f64(),
            met(longest <= limit && held_by_server == 0)
        );
        println!("hostile {k}_server_peak_rss {hwm:.1} MiB");
        println!(
            "hostile {k}_main_listener_after {} (target serves: {})",
            if main_ok { "200" } else { "no answer" },
            met(main_ok)
        );
    }
    Ok(())
}

async fn slow_readers(server: &Server) -> anyhow::Result<()> {
    let mut stalled = Vec::new();
    for i in 0..SLOTS {
        let mut tcp = TcpStream::connect(server.main).await?;
        let req = format!(
            "GET /big?mib=256 HTTP/1.1\r\nHost: narrow.bench\r\nAuthorization: Bearer {}\r\n\r\n",
            server.iss.token(&format!("reader-{i}"))
        );
        tcp.write_all(req.as_bytes()).await?;
        let mut head = [0u8; 12];
        tcp.read_exact(&mut head).await?;
        if &head != b"HTTP/1.1 200" {
            bail!("stalled reader {i}: {}", String::from_utf8_lossy(&head));
        }
        stalled.push(tcp);
    }
    let stalled_at = Instant::now();
    let http = reqwest::Client::builder().timeout(GUARD).build()?;
    let status = http
        .get(format!("http://{}/doc.json", server.main))
        .header("host", "narrow.bench")
        .bearer_auth(server.iss.token("waiter"))
        .send()
        .await?
        .status();
    let waited = stalled_at.elapsed();
    let limit = Duration::from_secs_f64(STREAM_IDLE_S) + SLACK;
    println!(
        "hostile slow_readers_waiting_user_served_after {:.2} s with {SLOTS} stalled downloads on {SLOTS} slots, status {status} (target <= {:.1} s stream_idle + {:.1} s: {})",
        waited.as_secs_f64(),
        STREAM_IDLE_S,
        SLACK.as_secs_f64(),
        met(status == 200 && waited <= limit)
    );
    let mut cut = 0;
    for mut tcp in stalled {
        if tokio::time::timeout(GUARD, until_closed(&mut tcp))
            .await
            .is_ok()
        {
            cut += 1;
        }
    }
    println!(
        "hostile slow_readers_cut {cut} of {SLOTS} (target all: {})",
        met(cut == SLOTS)
    );
    let closed = server
        .metric("scimgate_connections_closed_total{reason=\"stream_idle\"}")
        .await?;
    println!("hostile slow_readers_stream_idle_closures {closed}");
    Ok(())
}

/// Lets this process hold many sockets (the server's limit is what is under test).
fn raise_own_descriptor_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let current = getrlimit(Resource::Nofile);
    let want = current.maximum.unwrap_or(65_536).min(65_536);
    if current.current.is_some_and(|c| c < want) {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: current.maximum,
            },
        );
    }
}

fn main() -> anyhow::Result<()> {
    let names: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let todo: Vec<&str> = if names.is_empty() || names.iter().any(|n| n == "all") {
        BENCHES.to_vec()
    } else {
        names.iter().map(String::as_str).collect()
    };
    for name in &todo {
        if !BENCHES.contains(name) {
            bail!("unknown benchmark {name:?}; one of {}", BENCHES.join(", "));
        }
    }
    raise_own_descriptor_limit();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // A prebuilt binary may be named (`SCIMGATE_BIN`); otherwise the release build.
    let bin = match std::env::var_os("SCIMGATE_BIN") {
        Some(path) => PathBuf::from(path),
        None => load::release_binary(&root)?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let server = Server::start(&bin).await?;
        println!(
            "hostile server_nofile {SERVER_NOFILE} descriptors, connection cap {}",
            server.metric("scimgate_connections_max").await?
        );
        match accept_queue(server.main.port()) {
            Some((_, backlog)) => println!(
                "hostile server_listen_backlog {backlog} (ss -ltn), client connects in flight {IN_FLIGHT}"
            ),
            None => println!("hostile server_listen_backlog unknown (no ss)"),
        }
        for name in &todo {
            match *name {
                "idle" => idle(&server).await?,
                "slow-readers" => slow_readers(&server).await?,
                _ => {}
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    // The server process is killed when dropped; the runtime's tasks end with it.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
