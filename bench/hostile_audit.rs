//! What hostile traffic costs the audit log, against the release binary:
//!
//! ```text
//! cargo bench --bench hostile_audit
//! ```
//!
//! 1. Flood: up to 100,000 anonymous refused requests with 60 KB paths (half to a host
//!    no route serves, half to a route without credentials), 32 at a time, while a
//!    signed-in user makes 1,000 requests the policy denies. Figures: the database's
//!    growth (file and WAL, after a graceful stop) per 100,000 refused requests, and
//!    the share of the user's denials on the chain.
//! 2. Allowed: 20,000 authorized requests by the same user on a realistic path, on a
//!    restarted server; the growth per allowed request.
//!
//! Bounded: the flood stops after 180 s whatever it reached (the figure is scaled to
//! 100,000 from what was sent). Loopback only. Figures are printed as
//! `hostile <metric> <value> <unit> (target …: met|NOT MET)` and appended, with the date,
//! to `bench/out/results.txt`; nothing is hard-coded.

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/issuer.rs"]
mod issuer;
#[allow(dead_code)]
mod load;
#[allow(dead_code)] // shared with the other benchmarks
mod report;
#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/upstream.rs"]
mod upstream;
use report::Report;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};

use scimgate::record::{AuditQuery, AuditRow};
use scimgate::store::{SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

const FLOOD: usize = 100_000;
const FLOOD_PATH_BYTES: usize = 60 * 1024;
const FLOOD_DEADLINE: Duration = Duration::from_secs(180);
const PARALLEL: usize = 32;
const USER_DENIALS: usize = 1_000;
const ALLOWED: usize = 20_000;
const HOST: &str = "app.bench";
const USER: &str = "kim@example.com";
const SCIM_JSON: &str = "application/scim+json";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The database file and its WAL, in bytes.
fn db_bytes(data: &Path) -> u64 {
    ["scimgate.db", "scimgate.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(data.join(f)).map_or(0, |m| m.len()))
        .sum()
}

/// The release binary serving `data` with `config`; stopped gracefully by [`stop`].
fn serve(
    bin: &Path,
    config: &Path,
    data: &Path,
    log: &Path,
) -> anyhow::Result<load::ServerProcess> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(config)
        .arg("--data")
        .arg(data)
        .arg("--policies")
        .arg(data.join("policies"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("SCIMGATE_CONFIG")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()?;
    Ok(load::ServerProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

/// SIGTERM (the server drains, writes the audit queue and the last aggregates), then
/// waits for the exit.
fn stop(mut server: load::ServerProcess) -> anyhow::Result<()> {
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status()?;
    let since = Instant::now();
    while server.child.try_wait()?.is_none() {
        if since.elapsed() > Duration::from_secs(60) {
            bail!("the server did not stop within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn chain(data: &Path) -> anyhow::Result<Vec<AuditRow>> {
    Ok(SqliteStore::open(&data.join("scimgate.db"))?.audit_query(&AuditQuery::default())?)
}

async fn scim(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let r = http
        .post(format!("{base}/scim/v2{path}"))
        .bearer_auth(token)
        .header("content-type", SCIM_JSON)
        .body(body.to_string())
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("SCIM {path}: {}", r.status());
    }
    Ok(r.json().await?)
}

/// Sends `n` GETs built by `path(i)` with `host` and `auth`, `PARALLEL` at a time,
/// until `deadline`; how many got `want`, and how many were sent.
#[allow(clippy::too_many_arguments)]
async fn send_many(
    http: &reqwest::Client,
    base: &str,
    n: usize,
    host: impl Fn(usize) -> &'static str,
    path: impl Fn(usize) -> String,
    auth: Option<&str>,
    want: impl Fn(u16) -> bool,
    deadline: Instant,
) -> (usize, usize) {
    let want = &want;
    let results: Vec<Option<bool>> = stream::iter(0..n)
        .map(|i| {
            let url = format!("{base}{}", path(i));
            let mut r = http
                .get(url)
                .header("host", host(i))
                .header("x-request-id", format!("bench-{i}"));
            if let Some(t) = auth {
                r = r.bearer_auth(t);
            }
            async move {
                if Instant::now() > deadline {
                    return None;
                }
                Some(match r.send().await {
                    Ok(resp) => want(resp.status().as_u16()),
                    Err(_) => false,
                })
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let sent = results.iter().filter(|r| r.is_some()).count();
    let ok = results.iter().filter(|r| **r == Some(true)).count();
    (ok, sent)
}

async fn wait_ready(server: &mut load::ServerProcess) -> anyhow::Result<()> {
    load::wait_ready(server, Instant::now()).await.map(|_| ())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("bench").join("out");
    std::fs::create_dir_all(out.join("tmp"))?;
    let r = Report::new("hostile")?;
    let bin = load::release_binary(&root)?;
    let up = upstream::start().await;
    let iss = issuer::Issuer::start().await;
    let dir = tempfile::tempdir_in(out.join("tmp"))?;
    let data = dir.path().to_owned();
    std::fs::create_dir_all(data.join("policies"))?;
    std::fs::write(
        data.join("policies").join("bench.yaml"),
        format!(
            "routes:\n  - name: bench\n    match: {{ host: {HOST}, path: /** }}\n    upstream: {}\n    allow:\n      - {{ name: readers, groups: [readers], paths: [/public, /public/**] }}\n",
            up.url()
        ),
    )?;
    let config = data.join("config.yaml");
    std::fs::write(&config, iss.config())?;
    let (scim_token, row) = tokens::issue("bench", TokenScope::Scim, 0);
    SqliteStore::open(&data.join("scimgate.db"))?.token_insert(&row)?;
    let log = out.join("hostile-audit-server.log");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(PARALLEL)
        .timeout(Duration::from_secs(60))
        .build()?;

    // Setup: the user and the group that may read /public.
    let mut server = serve(&bin, &config, &data, &log)?;
    wait_ready(&mut server).await?;
    let user = scim(
        &http,
        &server.base,
        &scim_token,
        "/Users",
        json!({"schemas": [USER_SCHEMA], "userName": USER, "active": true}),
    )
    .await?;
    let id = user["id"].as_str().context("user id")?.to_owned();
    scim(
        &http,
        &server.base,
        &scim_token,
        "/Groups",
        json!({"schemas": [GROUP_SCHEMA], "displayName": "readers", "members": [{"value": id}]}),
    )
    .await?;
    let token = iss.token(USER);
    stop(server)?;
    let before = db_bytes(&data);
    let records_before = chain(&data)?.len();

    // 1. The flood, with the user's denials among it.
    let mut server = serve(&bin, &config, &data, &log)?;
    wait_ready(&mut server).await?;
    let long = "f".repeat(FLOOD_PATH_BYTES);
    let deadline = Instant::now() + FLOOD_DEADLINE;
    let started = Instant::now();
    let base = server.base.clone();
    let flood = send_many(
        &http,
        &base,
        FLOOD,
        |i| if i % 2 == 0 { "nowhere.bench" } else { HOST },
        |i| format!("/{i}/{long}"),
        None,
        |s| s == 404 || s == 401,
        deadline,
    );
    let denials = send_many(
        &http,
        &base,
        USER_DENIALS,
        |_| HOST,
        |i| format!("/private/{i}"),
        Some(&token),
        |s| s == 403,
        deadline,
    );
    let ((refused, sent), (denied, _)) = tokio::join!(flood, denials);
    let flood_secs = started.elapsed().as_secs_f64();
    stop(server)?;
    let after_flood = db_bytes(&data);
    let rows = chain(&data)?;
    let new_rows = &rows[records_before.min(rows.len())..];
    let recorded_denials = new_rows
        .iter()
        .filter(|r| r.entry.action == "access.deny" && r.entry.actor == format!("user:{USER}"))
        .count();
    let aggregated: u64 = new_rows
        .iter()
        .filter(|r| r.entry.action == "access.deny_aggregate")
        .filter_map(|r| serde_json::from_str::<Value>(r.entry.detail.as_deref()?).ok())
        .filter_map(|d| d["count"].as_u64())
        .sum();
    let grown = after_flood.saturating_sub(before) as f64;
    let per_100k = grown * 100_000.0 / sent.max(1) as f64;
    r.line(&format!(
        "hostile note: flood sent {sent} ({refused} refused as expected) in {flood_secs:.1} s; {aggregated} counted in aggregates, {} records written",
        new_rows.len()
    ))?;
    r.figure_with(
        "audit_growth_per_100k_anonymous_60k_paths",
        per_100k / 1_048_576.0,
        "MiB",
        &report::target("≤ 5 MiB", per_100k <= 5.0 * 1_048_576.0),
    )?;
    r.figure(
        "audit_bytes_per_anonymous_refusal",
        grown / sent.max(1) as f64,
        "B",
    )?;
    let share = 100.0 * recorded_denials as f64 / denied.max(1) as f64;
    r.figure_with(
        "audit_signed_in_decisions_recorded_during_flood",
        share,
        "%",
        &report::target("100 %", recorded_denials == denied && denied > 0),
    )?;

    // 2. Allowed traffic.
    let mut server = serve(&bin, &config, &data, &log)?;
    wait_ready(&mut server).await?;
    let base = server.base.clone();
    let records_before = chain(&data)?.len();
    let before = db_bytes(&data);
    let deadline = Instant::now() + FLOOD_DEADLINE;
    let (allowed, sent) = send_many(
        &http,
        &base,
        ALLOWED,
        |_| HOST,
        |i| format!("/public/target/docs/model.jaffle_shop.customer_orders_{i}.html"),
        Some(&token),
        |s| s == 200,
        deadline,
    )
    .await;
    stop(server)?;
    let grown = db_bytes(&data).saturating_sub(before) as f64;
    let written = chain(&data)?.len().saturating_sub(records_before);
    r.line(&format!(
        "hostile note: {allowed} of {sent} allowed requests answered 200; {written} records written"
    ))?;
    r.figure(
        "audit_bytes_per_allowed_request",
        grown / allowed.max(1) as f64,
        "B",
    )?;
    r.figure(
        "audit_disk_per_million_allowed",
        grown / allowed.max(1) as f64 * 1e6 / 1_048_576.0,
        "MiB",
    )?;
    Ok(())
}
