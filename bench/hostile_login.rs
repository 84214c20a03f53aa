//! A login flood, then a real sign-in, in-process (`scimgate::server::spawn`) against the
//! in-repo OpenID provider (`tests/it/oidc_provider.rs`):
//!
//! ```text
//! cargo bench --bench hostile_login                # 100,000 anonymous /login, then the victim's callback
//! cargo bench --bench hostile_login -- 20000       # another flood size
//! ```
//!
//! A victim starts signing in (`/login`, keeping the pending sign-in cookie); then
//! anonymous clients send the flood of `/login` requests (64 at a time, no cookies);
//! then the victim's browser comes back from the provider with its code. The target: the
//! victim's sign-in succeeds and the session works. Printed: the flood's rate, the
//! process's resident memory before and after, and the outcome, as
//! `hostile <metric> <value> <unit>`, appended with the date to `bench/out/results.txt`.
//! The flood stops at `FLOOD_DEADLINE` whatever its size. Nothing is hard-coded.

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/issuer.rs"]
mod issuer;
#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/oidc_provider.rs"]
mod oidc_provider;
#[allow(dead_code)] // shared with the other benchmarks
mod report;
use report::Report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use scimgate::config::{Config, Overrides};
use scimgate::server;
use scimgate::store::{SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

const DEFAULT_FLOOD: usize = 100_000;
const CONCURRENCY: usize = 64;
/// The flood ends here even if not all requests were sent.
const FLOOD_DEADLINE: Duration = Duration::from_secs(300);

/// This process's resident set, in bytes.
fn rss_bytes() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status")?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse()?;
            return Ok(kb * 1024);
        }
    }
    bail!("no VmRSS in /proc/self/status")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> anyhow::Result<()> {
    let flood: usize = match std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        Some(n) => n.parse().context("the flood size is a number")?,
        None => DEFAULT_FLOOD,
    };
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("bench")
        .join("out");
    std::fs::create_dir_all(&out)?;
    let report = Report::new("hostile")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(flood, &out, &report))
}

async fn run(flood: usize, out: &std::path::Path, report: &Report) -> anyhow::Result<()> {
    let idp = oidc_provider::Provider::start().await;
    let tmp = out.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    let dir = tempfile::tempdir_in(tmp)?;
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(&policies)?;
    let store = SqliteStore::open(&dir.path().join("scimgate.db"))?;
    let (scim_token, row) = tokens::issue("bench", TokenScope::Scim, 0);
    store.token_insert(&row)?;
    drop(store);
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().to_path_buf()),
        policies_dir: Some(policies),
    };
    let config = Config::from_yaml("bench.yaml", &idp.config(), &overrides)?;
    let running = server::spawn(config).await?;
    let root = format!("http://{}", running.addr);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let created = http
        .post(format!("{root}/scim/v2/Users"))
        .bearer_auth(&scim_token)
        .header("content-type", "application/scim+json")
        .body(
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "victim", "active": true,
            })
            .to_string(),
        )
        .send()
        .await?;
    if created.status() != StatusCode::CREATED {
        bail!("creating the victim: {}", created.status());
    }

    // The victim starts signing in.
    let login_url = format!("{root}/.scimgate/login");
    let login = http
        .get(format!("{login_url}?rd=%2Fdocs%2F"))
        .send()
        .await?;
    if login.status() != StatusCode::FOUND {
        bail!("the victim's /login answered {}", login.status());
    }
    let authorize = login
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("no authorize URL")?
        .to_owned();
    let pending = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .context("no pending sign-in cookie")?
        .to_owned();

    // The flood.
    let rss_before = rss_bytes()?;
    let started = Instant::now();
    let results: Vec<Option<StatusCode>> = futures_util::stream::iter(0..flood)
        .map(|_| {
            let (http, url) = (http.clone(), login_url.clone());
            async move {
                if started.elapsed() > FLOOD_DEADLINE {
                    return None;
                }
                Some(
                    http.get(url)
                        .send()
                        .await
                        .map(|r| r.status())
                        .unwrap_or(StatusCode::BAD_GATEWAY),
                )
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let sent = results.iter().filter(|r| r.is_some()).count();
    let redirected = results
        .iter()
        .filter(|r| **r == Some(StatusCode::FOUND))
        .count();
    let rss_after = rss_bytes()?;

    // The victim comes back from the provider.
    let callback = idp.approve(&authorize, "victim");
    let done = http
        .get(format!("{root}{callback}"))
        .header("cookie", &pending)
        .send()
        .await?;
    let status = done.status();
    let session = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("scimgate_session="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    let works = match &session {
        Some(cookie) => {
            http.get(format!("{root}/.scimgate/me"))
                .header("cookie", cookie)
                .header("accept", "application/json")
                .send()
                .await?
                .status()
                == StatusCode::OK
        }
        None => false,
    };
    let signed_in = status == StatusCode::FOUND && works;

    report.line(&format!(
        "hostile login_flood_requests {sent} requests ({redirected} redirected to the IdP; {flood} planned, {CONCURRENCY} at a time)"
    ))?;
    report.line(&format!(
        "hostile login_flood_rate {:.0} requests/s ({:.1} s)",
        sent as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    ))?;
    report.line(&format!(
        "hostile login_flood_rss_before {:.1} MiB (server and load generator, one process)",
        mib(rss_before)
    ))?;
    report.line(&format!(
        "hostile login_flood_rss_after {:.1} MiB (growth {:.1} MiB)",
        mib(rss_after),
        mib(rss_after.saturating_sub(rss_before))
    ))?;
    report.line(&format!(
        "hostile login_victim_sign_in {} (callback {}, session works: {works}) (target: succeeds after the flood: {})",
        if signed_in { "succeeded" } else { "failed" },
        status.as_u16(),
        if signed_in && sent == flood { "met" } else { "NOT MET" }
    ))?;
    running.stop().await;
    Ok(())
}
