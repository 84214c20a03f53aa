//! Hostile SCIM listings against a large directory, in-process (`scimgate::server::spawn`):
//!
//! ```text
//! cargo bench --bench hostile_scim                 # 1,000,000 users
//! cargo bench --bench hostile_scim -- 200000       # another size
//! HOSTILE_SCIM_PROXY_REQUESTS=50000 cargo bench --bench hostile_scim   # more samples
//! HOSTILE_SCIM_CLIENT_NICE=19 cargo bench --bench hostile_scim         # see below
//! ```
//!
//! The directory is seeded straight through the store (reused from `bench/out/data/`).
//! Printed: the latency of `sortBy=userName` (a deep page, both orders), `userName sw`
//! and `userName co` listings, each alone; then the p99 of proxied requests while idle
//! and while four SCIM clients loop sorted and substring listings (target: within 2x of
//! the idle p99), with how the SCIM listings were answered meanwhile (200, or 503 when
//! every scan slot stayed busy). Bounded: a fixed number of requests, loopback only.
//! Figures are printed as `hostile <metric> <value> <unit>` and appended, with the date,
//! to `bench/out/results.txt`; nothing is hard-coded.
//!
//! The server runs on a runtime of its own, built as `scimgate serve` builds it (one
//! worker per core); the upstream and the token issuer on another (one worker); the
//! proxy probe and the SCIM clients each on a thread of their own, so no load
//! generator task ever runs on the server's workers. Both p99 figures are taken the same
//! way: the same number of sequential proxied requests (default 20,000) on one kept-alive
//! connection, in four idle and four loaded phases that alternate (each figure pools
//! its four phases, so a drift of a shared machine weighs on both alike; the p99 of
//! each phase is printed too). The SCIM clients run at nice 0, like the server, unless
//! `HOSTILE_SCIM_CLIENT_NICE` gives their thread another nice value (on a shared
//! machine, 19 keeps the bench's own client CPU, which in production is on other hosts,
//! from competing with the server under test).

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/issuer.rs"]
mod issuer;
#[allow(dead_code)] // shared with the other benchmarks; this one uses part of it
mod load;
#[allow(dead_code)] // shared with the other benchmarks
mod report;
#[allow(dead_code)]
mod seed;
#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/upstream.rs"]
mod upstream;
use report::Report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use load::Samples;
use scimgate::config::{Config, Overrides};
use scimgate::server::{self, Running};
use seed::Spec;

const HOST: &str = "bench.test";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SCIM_JSON: &str = "application/scim+json";
/// Timed runs of each listing alone.
const LISTING_RUNS: usize = 5;
/// Proxied requests per p99 figure, unless `HOSTILE_SCIM_PROXY_REQUESTS` says.
const PROXY_REQUESTS: usize = 20_000;
/// SCIM clients looping heavy listings during the loaded phase.
const SCIM_CLIENTS: usize = 4;
/// Idle and loaded phases, alternated, that each p99 figure pools.
const ROUNDS: usize = 4;

/// What the clients need to reach the server under test.
#[derive(Clone)]
struct Target {
    addr: std::net::SocketAddr,
    scim_token: String,
    reader_token: String,
}

/// The server under test, on its own runtime, with its upstream and issuer on another.
struct Bench {
    _running: Running,
    target: Target,
    // Dropped last: the servers' tasks run on these.
    _side: tokio::runtime::Runtime,
    _server: tokio::runtime::Runtime,
}

impl Bench {
    fn start(data: &Path, scim_token: String) -> anyhow::Result<Bench> {
        // The upstream and the issuer: one worker of their own.
        let side = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bench-side")
            .enable_all()
            .build()?;
        let (up, iss) =
            side.block_on(async { (upstream::start().await, issuer::Issuer::start().await) });
        // The server: as `scimgate serve` builds its runtime.
        let server = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let policies = data.join("bench-policies");
        std::fs::create_dir_all(&policies)?;
        std::fs::write(
            policies.join("bench.yaml"),
            format!(
                "routes:\n  - name: bench\n    match: {{ host: {HOST}, path: /** }}\n    upstream: {}\n    allow:\n      - {{ name: readers, groups: [bench-readers], methods: [GET] }}\n",
                up.url()
            ),
        )?;
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data.to_path_buf()),
            policies_dir: Some(policies),
        };
        // HOSTILE_SCIM_SERVER_YAML: more of the server's configuration (e.g. a `scim:`
        // block with `max_concurrent_scans` and `page_threads`), to compare settings.
        let extra = std::env::var("HOSTILE_SCIM_SERVER_YAML").unwrap_or_default();
        if !extra.is_empty() {
            eprintln!(
                "hostile note: server configuration added: {}",
                extra.replace('\n', " ")
            );
        }
        let yaml = format!("{}{extra}", iss.config());
        let config = Config::from_yaml("bench.yaml", &yaml, &overrides)?;
        let started = Instant::now();
        let running = server.block_on(server::spawn(config))?;
        eprintln!(
            "server loaded the directory in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // The upstream and issuer live as long as the process (the bench ends with it).
        let target = Target {
            addr: running.addr,
            reader_token: iss.token("bench-reader@example.com"),
            scim_token,
        };
        std::mem::forget(up);
        std::mem::forget(iss);
        Ok(Bench {
            _running: running,
            target,
            _side: side,
            _server: server,
        })
    }
}

impl Target {
    async fn scim(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut r = http
            .request(
                method.clone(),
                format!("http://{}/scim/v2{path}", self.addr),
            )
            .bearer_auth(&self.scim_token);
        if let Some(b) = body {
            r = r.header("content-type", SCIM_JSON).body(b.to_string());
        }
        let resp = r.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The reader the proxied requests are made as, in the group the route allows.
    async fn add_reader(&self) -> anyhow::Result<()> {
        let http = load::client()?;
        let user = self
            .scim(&http, reqwest::Method::POST, "/Users", Some(json!({"schemas": [USER_SCHEMA], "userName": "bench-reader@example.com", "active": true})))
            .await?;
        let id = user["id"].as_str().context("user id")?.to_owned();
        self.scim(
            &http,
            reqwest::Method::POST,
            "/Groups",
            Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "bench-readers", "members": [{"value": id}]})),
        )
        .await?;
        Ok(())
    }

    /// One listing: its status and how long it took.
    async fn listing(
        &self,
        http: &reqwest::Client,
        query: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Duration)> {
        let started = Instant::now();
        let resp = http
            .get(format!("http://{}/scim/v2/Users", self.addr))
            .query(query)
            .bearer_auth(&self.scim_token)
            .send()
            .await?;
        let status = resp.status().as_u16();
        resp.bytes().await?;
        Ok((status, started.elapsed()))
    }

    /// `n` sequential proxied GETs on one kept-alive connection: their latencies.
    async fn proxy_samples(&self, n: usize) -> anyhow::Result<Samples> {
        let http = load::client()?;
        let mut samples = Samples::default();
        for _ in 0..n {
            let started = Instant::now();
            let resp = http
                .get(format!("http://{}/public/index.html", self.addr))
                .header("host", HOST)
                .bearer_auth(&self.reader_token)
                .send()
                .await?;
            let status = resp.status();
            resp.bytes().await?;
            samples.push(started.elapsed());
            if status != reqwest::StatusCode::OK {
                bail!("proxied request answered {status}");
            }
        }
        Ok(samples)
    }
}

/// Runs `f` on a thread of its own with a single-threaded runtime (a load generator
/// apart from the server's workers), at nice `nice` when given.
fn on_own_thread<T, F, Fut>(
    name: &str,
    nice: Option<i32>,
    f: F,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<T>>>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    Ok(std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Some(n) = nice {
                rustix::process::setpriority_process(None, n)?;
            }
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(f())
        })?)
}

fn join<T>(h: std::thread::JoinHandle<anyhow::Result<T>>) -> anyhow::Result<T> {
    h.join()
        .map_err(|_| anyhow::anyhow!("a load thread panicked"))?
}

/// The latencies of `n` proxied requests made from a thread of their own.
fn proxy_samples(target: &Target, n: usize) -> anyhow::Result<Samples> {
    let t = target.clone();
    join(on_own_thread("bench-probe", None, move || async move {
        t.proxy_samples(n).await
    })?)
}

/// The latencies of `n` proxied requests while four clients loop heavy listings (two
/// sorted deep pages, two substring scans), counting how the listings were answered.
fn loaded_phase(
    target: &Target,
    queries: &[Vec<(&'static str, String)>],
    client_nice: Option<i32>,
    counts: &Arc<[AtomicU64; 3]>,
    n: usize,
) -> anyhow::Result<Samples> {
    let stop = Arc::new(AtomicBool::new(false));
    let (t, st, cn) = (target.clone(), stop.clone(), counts.clone());
    let queries = queries.to_vec();
    let clients = on_own_thread("bench-scim-clients", client_nice, move || async move {
        let mut tasks = Vec::new();
        for query in queries {
            let (t, stop, counts) = (t.clone(), st.clone(), cn.clone());
            tasks.push(tokio::spawn(async move {
                let http = load::client()?;
                let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
                while !stop.load(Ordering::Relaxed) {
                    let (status, _) = t.listing(&http, &q).await?;
                    let slot = match status {
                        200 => 0,
                        503 => {
                            // A refused client backs off as Retry-After asks, a little.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            1
                        }
                        _ => 2,
                    };
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            }));
        }
        for task in tasks {
            task.await??;
        }
        anyhow::Ok(())
    })?;
    // Let the listings get going.
    std::thread::sleep(Duration::from_millis(500));
    let samples = proxy_samples(target, n);
    stop.store(true, Ordering::Relaxed);
    join(clients)?;
    samples
}

/// The listings measured, by name.
fn listings(users: u32) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let middle = (users / 2).to_string();
    // A userName prefix held by 1/256 of the users (one given.family pair), and a
    // substring held by one (a scan must still read everyone).
    let name = seed::user_name(users / 3);
    let at = name.find('@').unwrap_or(name.len());
    let prefix = name[..name.find(|c: char| c.is_ascii_digit()).unwrap_or(at)].to_owned();
    let needle = name[2..at].to_owned();
    vec![
        (
            "sortBy=userName (page at the middle)",
            vec![
                ("sortBy", "userName".to_owned()),
                ("startIndex", middle.clone()),
                ("count", "100".to_owned()),
            ],
        ),
        (
            "sortBy=userName descending (page at the middle)",
            vec![
                ("sortBy", "userName".to_owned()),
                ("sortOrder", "descending".to_owned()),
                ("startIndex", middle),
                ("count", "100".to_owned()),
            ],
        ),
        (
            "userName sw",
            vec![
                ("filter", format!("userName sw \"{prefix}\"")),
                ("count", "100".to_owned()),
            ],
        ),
        (
            "userName co",
            vec![
                ("filter", format!("userName co \"{needle}\"")),
                ("count", "100".to_owned()),
            ],
        ),
    ]
}

fn main() -> anyhow::Result<()> {
    let users: u32 = match std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .as_deref()
    {
        Some(n) => n.parse().context("the argument is a number of users")?,
        None => 1_000_000,
    };
    let proxy_requests: usize = match std::env::var("HOSTILE_SCIM_PROXY_REQUESTS") {
        Ok(n) => n
            .parse()
            .context("HOSTILE_SCIM_PROXY_REQUESTS is a number")?,
        Err(_) => PROXY_REQUESTS,
    };
    let client_nice: Option<i32> = match std::env::var("HOSTILE_SCIM_CLIENT_NICE") {
        Ok(n) => Some(
            n.parse()
                .context("HOSTILE_SCIM_CLIENT_NICE is a nice value")?,
        ),
        Err(_) => None,
    };
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("bench")
        .join("out");
    std::fs::create_dir_all(&out)?;
    let report = Report::new("hostile")?;
    let (data, token) = seed::cached(&report.out, &format!("hostile-scim-{users}"), || Spec {
        users,
        groups: Vec::new(),
        memberships: Vec::new(),
    })?;
    // The server writes to the data directory: work on a copy of the seeded one.
    let work = tempfile::tempdir_in(report.out.join("data"))?;
    for f in std::fs::read_dir(&data)? {
        let f = f?;
        if f.file_type()?.is_file() {
            std::fs::copy(f.path(), work.path().join(f.file_name()))?;
        }
    }
    let bench = Bench::start(work.path(), token)?;
    run(&report, &bench.target, users, proxy_requests, client_nice)
}

fn run(
    report: &Report,
    target: &Target,
    users: u32,
    proxy_requests: usize,
    client_nice: Option<i32>,
) -> anyhow::Result<()> {
    let t = target.clone();
    join(on_own_thread("bench-setup", None, move || async move {
        t.add_reader().await
    })?)?;
    report.line(&format!(
        "hostile note: {users} users, in-process server (own runtime, {} workers), {LISTING_RUNS} listing runs each, {proxy_requests} proxied requests per p99, SCIM clients at nice {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        client_nice.unwrap_or(0),
    ))?;

    let t = target.clone();
    let figures = join(on_own_thread("bench-listings", None, move || async move {
        let http = load::client()?;
        let mut figures = Vec::new();
        for (name, query) in listings(users) {
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let mut samples = Samples::default();
            let mut statuses = Vec::new();
            for _ in 0..LISTING_RUNS {
                let (status, took) = t.listing(&http, &q).await?;
                statuses.push(status);
                samples.push(took);
            }
            statuses.dedup();
            figures.push((name, statuses, samples.quantile_us(0.5)));
        }
        anyhow::Ok(figures)
    })?)?;
    for (name, statuses, median) in figures {
        report.figure_with(
            &format!("scim {name} median (status {statuses:?})"),
            median / 1e3,
            "ms",
            "",
        )?;
    }

    // Idle and loaded phases alternate, ROUNDS of each, and each figure pools its
    // phases' samples: a drift of the machine (another tenant, a frequency change)
    // then weighs on both figures alike instead of on whichever phase it fell in.
    let per_phase = proxy_requests.div_ceil(ROUNDS);
    let all = listings(users);
    let queries: Vec<Vec<(&'static str, String)>> = (0..SCIM_CLIENTS)
        .map(|c| {
            if c % 2 == 0 {
                all[0].1.clone()
            } else {
                all[3].1.clone()
            }
        })
        .collect();
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let (mut idle, mut loaded) = (Samples::default(), Samples::default());
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let mut i = proxy_samples(target, per_phase)?;
        let mut l = loaded_phase(target, &queries, client_nice, &counts, per_phase)?;
        rounds.push(format!(
            "{:.2}/{:.2}",
            i.quantile_us(0.99) / 1e3,
            l.quantile_us(0.99) / 1e3
        ));
        idle.extend(i);
        loaded.extend(l);
    }
    let (idle, loaded) = (idle.quantile_us(0.99), loaded.quantile_us(0.99));
    report.figure_with("proxy p99 idle", idle / 1e3, "ms", "")?;
    let met = if loaded <= 2.0 * idle {
        "met"
    } else {
        "NOT MET"
    };
    report.figure_with(
        "proxy p99 during 4 sorted+substring SCIM clients",
        loaded / 1e3,
        "ms",
        &format!(" (target <= 2x idle {:.2} ms: {met})", idle / 1e3),
    )?;
    report.line(&format!(
        "hostile note: p99 idle/loaded (ms) by round: {}",
        rounds.join(", ")
    ))?;
    report.line(&format!(
        "hostile note: SCIM listings during the loaded phases: {} answered 200, {} refused 503, {} other",
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed),
        counts[2].load(Ordering::Relaxed)
    ))?;
    Ok(())
}
