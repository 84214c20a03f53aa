//! Time-bound grant expiry through the proxy, in-process (`scimgate::server::spawn`):
//!
//! ```text
//! cargo bench --bench grant_expiry             # 50 grants
//! GRANTS=200 cargo bench --bench grant_expiry  # more
//! ```
//!
//! `GRANTS` users (default 50) each ask for a requestable group over the access
//! requests API and are approved at once (one approval); each grant lasts
//! `DURATION_S` seconds (default 10) from its approval, so the ends are spread by the
//! time the approvals took. Every user then opens a slow download that only the grant
//! allows. For each grant, from its `ends_at` (the instant the API answered with):
//! the time until the client sees its download cut, and the time until the first
//! denied request of a prober that asks every millisecond from 20 ms before the end.
//! Both the server and the client read the same wall clock. Figures are printed as
//! `grant_expiry <metric> <value> <unit>` and appended to `bench/out/results.txt`.

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/issuer.rs"]
mod issuer;
#[allow(dead_code)] // shared with the other benchmarks
mod report;
#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/upstream.rs"]
mod upstream;
use report::{target, Report};

use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use reqwest::StatusCode;
use serde_json::{json, Value};

use scimgate::config::{Config, Overrides};
use scimgate::server;
use scimgate::store::{SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

const HOST: &str = "app.bench";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// How long after its end a download may stay open before it counts as not cut.
const CUT_DEADLINE: Duration = Duration::from_secs(5);
/// The target for both delays' p99.
const TARGET_P99_MS: f64 = 100.0;

/// The `q` quantile (0..=1) of `values`, sorted in place.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) => v.parse().with_context(|| format!("{name}={v:?}")),
        Err(_) => Ok(default),
    }
}

/// Milliseconds from `from` to `to` (negative when `to` is earlier).
fn ms_between(from: SystemTime, to: SystemTime) -> f64 {
    match to.duration_since(from) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -(e.duration().as_secs_f64() * 1e3),
    }
}

/// An RFC 3339 time as the API writes it.
fn parse_time(v: &Value) -> anyhow::Result<SystemTime> {
    let text = v.as_str().context("a time")?;
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)?;
    let nanos = u64::try_from(t.unix_timestamp_nanos()).context("a time after 1970")?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos))
}

struct Setup {
    running: server::Running,
    _dir: tempfile::TempDir,
    _up: upstream::Upstream,
    iss: issuer::Issuer,
    http: reqwest::Client,
    scim_token: String,
}

impl Setup {
    async fn start(r: &Report, duration_s: u64) -> anyhow::Result<Setup> {
        let up = upstream::start().await;
        let iss = issuer::Issuer::start().await;
        let dir = r.tempdir()?;
        let policies = dir.path().join("policies");
        std::fs::create_dir_all(&policies)?;
        std::fs::write(
            policies.join("bench.yaml"),
            format!(
                "routes:\n  - name: bench\n    match: {{ host: {HOST}, path: /** }}\n    upstream: {}\n    allow:\n      - {{ name: oncall, groups: [oncall] }}\n    requests:\n      - {{ group: oncall, requesters: [engineers], approvers: [leads], max_duration: {}s, reason_required: false }}\n",
                up.url(),
                duration_s.max(1)
            ),
        )?;
        let store = SqliteStore::open(&dir.path().join("scimgate.db"))?;
        let (scim_token, row) = tokens::issue("bench", TokenScope::Scim, 0);
        store.token_insert(&row)?;
        drop(store);
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(dir.path().to_path_buf()),
            policies_dir: Some(policies),
        };
        let config = Config::from_yaml("bench.yaml", &iss.config(), &overrides)?;
        let running = server::spawn(config).await?;
        Ok(Setup {
            running,
            _dir: dir,
            _up: up,
            iss,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            scim_token,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running.addr)
    }

    async fn scim_post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(self.url(&format!("/scim/v2{path}")))
            .bearer_auth(&self.scim_token)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("POST {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// A call of the access requests API as `user`, which must succeed.
    async fn api(&self, user: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .post(self.url(&format!("/.scimgate/api/access-requests{path}")))
            .bearer_auth(self.iss.token(user))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("access API {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    fn get(&self, user: &str, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .header("host", HOST)
            .bearer_auth(self.iss.token(user))
    }
}

/// When the client saw a download end, and whether with an error (cut).
async fn drain(mut resp: reqwest::Response) -> (SystemTime, bool) {
    loop {
        match resp.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => return (SystemTime::now(), false),
            Err(_) => return (SystemTime::now(), true),
        }
    }
}

/// From 20 ms before `end`, asks every millisecond until refused; when the first
/// refusal arrived (a request cut in flight by the end is asked again).
async fn probe(
    http: reqwest::Client,
    req: reqwest::Request,
    end: SystemTime,
) -> anyhow::Result<SystemTime> {
    if let Ok(wait) = end.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait.saturating_sub(Duration::from_millis(20))).await;
    }
    loop {
        let r = req.try_clone().context("a GET clones")?;
        // A request in flight when the grant ends is cut with the downloads: ask again.
        let Ok(resp) = http.execute(r).await else {
            continue;
        };
        let status = resp.status();
        let body = resp.bytes().await?;
        if status == StatusCode::FORBIDDEN {
            return Ok(SystemTime::now());
        }
        // 503 `cancelled`: in flight when the grant ended, cut with the downloads.
        let cut = status == StatusCode::SERVICE_UNAVAILABLE
            && body.starts_with(b"{\"error\":\"cancelled\"");
        if status != StatusCode::OK && !cut {
            bail!(
                "the prober got {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn main() -> anyhow::Result<()> {
    let grants = usize::try_from(env_number("GRANTS", 50)?)?.max(1);
    let duration_s = env_number("DURATION_S", 10)?.max(1);
    let report = Report::new("grant_expiry")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(&report, grants, duration_s))
}

async fn run(r: &Report, grants: usize, duration_s: u64) -> anyhow::Result<()> {
    let s = Setup::start(r, duration_s).await?;
    let mut ids = Vec::new();
    let names: Vec<String> = (0..grants).map(|i| format!("eng-{i:03}")).collect();
    for name in names.iter().chain([&"lead".to_owned()]) {
        let u = s
            .scim_post(
                "/Users",
                json!({"schemas": [USER_SCHEMA], "userName": name, "active": true}),
            )
            .await?;
        ids.push(u["id"].as_str().context("user id")?.to_owned());
    }
    let lead = ids.pop().context("the lead")?;
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    for (group, members) in [
        ("engineers", members),
        ("leads", vec![json!({"value": lead})]),
        ("oncall", Vec::new()),
    ] {
        s.scim_post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": group, "members": members}),
        )
        .await?;
    }
    // Each asks, and is approved at once.
    let mut ends = Vec::with_capacity(grants);
    for name in &names {
        let asked = s
            .api(
                name,
                "",
                json!({"route": "bench", "group": "oncall", "duration": duration_s}),
            )
            .await?;
        let id = asked["id"].as_str().context("request id")?;
        let approved = s.api("lead", &format!("/{id}/approve"), json!({})).await?;
        if approved["state"] != "active" {
            bail!("{name}'s grant did not start: {approved}");
        }
        ends.push(parse_time(&approved["ends_at"])?);
    }
    let setup_left_ms = ms_between(SystemTime::now(), ends[0]);
    if setup_left_ms < 1000.0 {
        bail!("the first grant ends {setup_left_ms:.0} ms after the setup: raise DURATION_S");
    }
    // A download per grant, and a prober per grant.
    let mut downloads = Vec::with_capacity(grants);
    let mut probers = Vec::with_capacity(grants);
    for (name, end) in names.iter().zip(&ends) {
        let mut resp = s.get(name, "/public/slow").send().await?;
        if resp.status() != StatusCode::OK {
            bail!("{name}'s download answered {}", resp.status());
        }
        resp.chunk().await?.context("the download flows")?;
        downloads.push(tokio::spawn(drain(resp)));
        let req = s.get(name, "/public/index.html").build()?;
        probers.push(tokio::spawn(probe(s.http.clone(), req, *end)));
    }
    let mut cut_ms = Vec::with_capacity(grants);
    let mut denied_ms = Vec::with_capacity(grants);
    let (mut not_cut, mut clean_end, mut early) = (0usize, 0usize, 0usize);
    for ((download, prober), end) in downloads.into_iter().zip(probers).zip(&ends) {
        let left = end.duration_since(SystemTime::now()).unwrap_or_default();
        match tokio::time::timeout(left + CUT_DEADLINE, download).await {
            Ok(ended) => {
                let (at, error) = ended?;
                let d = ms_between(*end, at);
                if d < 0.0 {
                    early += 1;
                }
                if !error {
                    clean_end += 1;
                }
                cut_ms.push(d);
            }
            Err(_) => not_cut += 1,
        }
        denied_ms.push(ms_between(*end, prober.await??));
    }
    let (cut_p50, cut_p99) = (quantile(&mut cut_ms, 0.5), quantile(&mut cut_ms, 0.99));
    let (denied_p50, denied_p99) = (
        quantile(&mut denied_ms, 0.5),
        quantile(&mut denied_ms, 0.99),
    );
    r.figure("grants", grants as f64, "grants")?;
    r.figure("duration", duration_s as f64, "s")?;
    r.figure("not_cut_within_5s", not_cut as f64, "downloads")?;
    r.figure("cut_before_end", early as f64, "downloads")?;
    r.figure("clean_end_not_error", clean_end as f64, "downloads")?;
    r.figure("cut_after_end_p50", cut_p50, "ms")?;
    r.figure_with(
        "cut_after_end_p99",
        cut_p99,
        "ms",
        &target("p99 <= 100 ms", not_cut == 0 && cut_p99 <= TARGET_P99_MS),
    )?;
    r.figure("first_denied_after_end_p50", denied_p50, "ms")?;
    r.figure_with(
        "first_denied_after_end_p99",
        denied_p99,
        "ms",
        &target("p99 <= 100 ms", denied_p99 <= TARGET_P99_MS),
    )?;
    s.running.stop().await;
    Ok(())
}
