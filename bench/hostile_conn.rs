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
//! `slow-readers`: as many stalled downloads as the route's `max_concurrency`, then a
//! user who waits for a slot; the figure is how long the user waited, against the
//! route's `stream_idle` timeout.
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
        std::fs::write(
            &config,
            format!(
                "{}listen: 127.0.0.1:{port}\ndata_dir: {}\npolicies: {}\nops:\n  listen: 127.0.0.1:{ops_port}\nserver:\n  detect_timeout_seconds: {DETECT_S}\n  http1_idle_timeout_seconds: {IDLE_S}\n  http2_idle_timeout_seconds: {IDLE_S}\n",
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

/// One hostile connection; `Some(held)` when the server served it (then `held` is how
/// long it stayed open after its last byte from the client), `None` when refused.
async fn one(kind: Kind, addr: std::net::SocketAddr) -> anyhow::Result<Option<Duration>> {
    let mut tcp = TcpStream::connect(addr).await?;
    let quiet_from;
    match kind {
        Kind::Silent => quiet_from = Instant::now(),
        Kind::PartialPreface => {
            tcp.write_all(b"PRI * HTTP/2.0\r\n").await?;
            quiet_from = Instant::now();
        }
        Kind::Http1Idle => {
            let _ = tcp
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                .await;
            let mut got = Vec::new();
            let mut buf = [0u8; 512];
            while !got.ends_with(b"ok\n") {
                match tcp.read(&mut buf).await {
                    Ok(0) | Err(_) => return Ok(None),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            quiet_from = Instant::now();
        }
        Kind::Http2Idle => {
            let Ok((mut send, conn)) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
                    .await
            else {
                return Ok(None);
            };
            let driver = tokio::spawn(conn);
            let req = http::Request::builder()
                .uri(format!("http://{addr}/healthz"))
                .body(http_body_util::Empty::<bytes::Bytes>::new())?;
            match send.send_request(req).await {
                Ok(r) if r.status() == 200 => {}
                _ => return Ok(None),
            }
            let quiet = Instant::now();
            let _ = driver.await;
            return Ok(Some(quiet.elapsed()));
        }
    }
    let started = Instant::now();
    until_closed(&mut tcp).await;
    // Closed at once: refused at the cap.
    if matches!(kind, Kind::Silent | Kind::PartialPreface) && started.elapsed() < kind.timeout() / 2
    {
        return Ok(None);
    }
    Ok(Some(quiet_from.elapsed()))
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
        let started = Instant::now();
        let gate = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = Vec::with_capacity(PER_KIND);
        for _ in 0..PER_KIND {
            let permit = gate.clone().acquire_owned().await?;
            let addr = server.main;
            tasks.push(tokio::spawn(async move {
                let r = tokio::time::timeout(GUARD, one(kind, addr)).await;
                drop(permit);
                r
            }));
        }
        let mut served = 0usize;
        let mut errors = 0usize;
        let mut hung = 0usize;
        let mut longest = Duration::ZERO;
        for t in tasks {
            match t.await? {
                Ok(Ok(Some(held))) => {
                    served += 1;
                    longest = longest.max(held);
                }
                Ok(Ok(None)) => {}
                Ok(Err(_)) => errors += 1,
                Err(_) => hung += 1,
            }
        }
        let elapsed = started.elapsed();
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
        println!("hostile {k}_served {served} connections");
        println!("hostile {k}_refused_at_cap {refused} connections");
        println!(
            "hostile {k}_closed_by_{} {closed} connections",
            kind.reason()
        );
        println!("hostile {k}_client_errors {errors} connections");
        let limit = kind.timeout() + SLACK;
        println!(
            "hostile {k}_longest_held {:.2} s (target <= {:.1} s timeout + {:.1} s: {})",
            longest.as_secs_f64(),
            kind.timeout().as_secs_f64(),
            SLACK.as_secs_f64(),
            met(hung == 0 && longest <= limit)
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
