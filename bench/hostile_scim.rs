//! Hostile SCIM listings against a large directory, in-process (`scimgate::server::spawn`):
//!
//! ```text
//! cargo bench --bench hostile_scim                 # 1,000,000 users
//! cargo bench --bench hostile_scim -- 200000       # another size
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

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/issuer.rs"]
mod issuer;
#[allow(dead_code)] // shared with the other benchmarks; this one uses part of it
mod load;
#[allow(dead_code)]
mod seed;
#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/upstream.rs"]
mod upstream;

use std::io::Write;
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
/// Proxied requests per p99 figure.
const PROXY_REQUESTS: usize = 3_000;
/// SCIM clients looping heavy listings during the loaded phase.
const SCIM_CLIENTS: usize = 4;

struct Report {
    out: PathBuf,
    stamp: String,
}

impl Report {
    fn line(&self, text: &str) -> anyhow::Result<()> {
        println!("{text}");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.out.join("results.txt"))?;
        writeln!(f, "{} {text}", self.stamp)?;
        Ok(())
    }

    fn figure(&self, metric: &str, value: f64, unit: &str, target: &str) -> anyhow::Result<()> {
        let value = if value.abs() >= 100.0 {
            format!("{value:.0}")
        } else {
            format!("{value:.2}")
        };
        self.line(&format!("hostile {metric} {value} {unit}{target}"))
    }
}

struct Bench {
    running: Running,
    /// Kept alive: the gate fetches its keys.
    _iss: issuer::Issuer,
    scim_token: String,
    reader_token: String,
}

impl Bench {
    async fn start(data: &Path, scim_token: String) -> anyhow::Result<Bench> {
        let up = upstream::start().await;
        let iss = issuer::Issuer::start().await;
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
        let config = Config::from_yaml("bench.yaml", &iss.config(), &overrides)?;
        let started = Instant::now();
        let running = server::spawn(config).await?;
        eprintln!(
            "server loaded the directory in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // The upstream lives as long as the process (the bench ends with it).
        std::mem::forget(up);
        let bench = Bench {
            running,
            reader_token: iss.token("bench-reader@example.com"),
            _iss: iss,
            scim_token,
        };
        let http = load::client()?;
        let user = bench
            .scim(&http, reqwest::Method::POST, "/Users", Some(json!({"schemas": [USER_SCHEMA], "userName": "bench-reader@example.com", "active": true})))
            .await?;
        let id = user["id"].as_str().context("user id")?.to_owned();
        bench
            .scim(
                &http,
                reqwest::Method::POST,
                "/Groups",
                Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "bench-readers", "members": [{"value": id}]})),
            )
            .await?;
        Ok(bench)
    }

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
                format!("http://{}/scim/v2{path}", self.running.addr),
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

    /// One listing: its status and how long it took.
    async fn listing(
        &self,
        http: &reqwest::Client,
        query: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Duration)> {
        let started = Instant::now();
        let resp = http
            .get(format!("http://{}/scim/v2/Users", self.running.addr))
            .query(query)
            .bearer_auth(&self.scim_token)
            .send()
            .await?;
        let status = resp.status().as_u16();
        resp.bytes().await?;
        Ok((status, started.elapsed()))
    }

    /// The p99 of `PROXY_REQUESTS` sequential proxied GETs, in microseconds.
    async fn proxy_p99(&self, http: &reqwest::Client) -> anyhow::Result<f64> {
        let mut samples = Samples::default();
        for _ in 0..PROXY_REQUESTS {
            let started = Instant::now();
            let resp = http
                .get(format!("http://{}/public/index.html", self.running.addr))
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
        Ok(samples.quantile_us(0.99))
    }
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
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("bench")
        .join("out");
    std::fs::create_dir_all(&out)?;
    let stamp =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let report = Report { out, stamp };
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(&report, work.path(), token, users))
}

async fn run(report: &Report, data: &Path, token: String, users: u32) -> anyhow::Result<()> {
    let bench = Arc::new(Bench::start(data, token).await?);
    let http = load::client()?;
    report.line(&format!(
        "hostile note: {users} users, in-process server, {} listing runs each, {PROXY_REQUESTS} proxied requests per p99",
        LISTING_RUNS
    ))?;

    for (name, query) in listings(users) {
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut samples = Samples::default();
        let mut statuses = Vec::new();
        for _ in 0..LISTING_RUNS {
            let (status, took) = bench.listing(&http, &q).await?;
            statuses.push(status);
            samples.push(took);
        }
        statuses.dedup();
        report.figure(
            &format!("scim {name} median (status {statuses:?})"),
            samples.quantile_us(0.5) / 1e3,
            "ms",
            "",
        )?;
    }

    let idle = bench.proxy_p99(&http).await?;
    report.figure("proxy p99 idle", idle / 1e3, "ms", "")?;

    // Four clients loop heavy listings (two sorted deep pages, two substring scans)
    // until the loaded measurement is done.
    let stop = Arc::new(AtomicBool::new(false));
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let all = listings(users);
    let mut clients = Vec::new();
    for c in 0..SCIM_CLIENTS {
        let query = if c % 2 == 0 {
            all[0].1.clone()
        } else {
            all[3].1.clone()
        };
        let (bench, stop, counts) = (bench.clone(), stop.clone(), counts.clone());
        clients.push(tokio::spawn(async move {
            let http = load::client()?;
            let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            while !stop.load(Ordering::Relaxed) {
                let (status, _) = bench.listing(&http, &q).await?;
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
    // Let the listings get going.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = bench.proxy_p99(&http).await?;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await??;
    }
    let met = if loaded <= 2.0 * idle {
        "met"
    } else {
        "NOT MET"
    };
    report.figure(
        "proxy p99 during 4 sorted+substring SCIM clients",
        loaded / 1e3,
        "ms",
        &format!(" (target <= 2x idle {:.2} ms: {met})", idle / 1e3),
    )?;
    report.line(&format!(
        "hostile note: SCIM listings during the loaded phase: {} answered 200, {} refused 503, {} other",
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed),
        counts[2].load(Ordering::Relaxed)
    ))?;
    Ok(())
}
