//! Revocation benchmarks through the proxy, in-process (`scimgate::server::spawn`):
//!
//! ```text
//! cargo bench --bench revocation                  # both
//! cargo bench --bench revocation -- next-request  # 10,000 trials: the very next request is denied
//! cargo bench --bench revocation -- stream        # 300 trials: an open download is cut
//! ```
//!
//! `next-request`: a user who may read is checked (200); then a SCIM deactivation or a
//! removal from the granting group (alternating); as soon as the SCIM response is in,
//! the same user's next request must be denied. Any request let through is a violation.
//! `stream`: a slow download through the proxy is open and flowing; a SCIM deactivation
//! is sent; the figure is the time from the SCIM response to the client seeing the
//! download end (negative when it ended before the response arrived).
//!
//! Figures are printed as `revocation <metric> <value> <unit>` and appended, with the
//! date, to `bench/out/results.txt`. Nothing is hard-coded: what is printed is what was
//! measured on that run.

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/issuer.rs"]
mod issuer;
#[allow(dead_code)] // shared with the other benchmarks
mod report;
#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/upstream.rs"]
mod upstream;
use report::Report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::StatusCode;
use serde_json::{json, Value};

use scimgate::config::{Config, Overrides};
use scimgate::server::{self, Running};
use scimgate::store::{SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

const BENCHES: &[&str] = &["next-request", "stream"];
const NEXT_REQUEST_TRIALS: usize = 10_000;
const STREAM_TRIALS: usize = 300;
/// Users the trials rotate through (each is granted again before its next trial).
const POOL: usize = 50;
/// How long a download may stay open after the SCIM response before it counts as not cut.
const CUT_DEADLINE: Duration = Duration::from_secs(5);
const HOST: &str = "app.bench";
const GROUP: &str = "readers";
const SCIM_JSON: &str = "application/scim+json";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The `q` quantile (0..=1) of `values`, sorted in place.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// A gate in front of the test upstream, trusting the test issuer, with one route whose
/// only rule lets the `readers` group read.
struct Bench {
    running: Running,
    _dir: tempfile::TempDir,
    iss: issuer::Issuer,
    scim: reqwest::Client,
    proxy: reqwest::Client,
    scim_token: String,
    users: Vec<User>,
    group_id: String,
}

struct User {
    name: String,
    id: String,
    /// The bearer JWT, minted once (its verification is cached, as in production).
    token: String,
}

impl Bench {
    async fn start(out: &std::path::Path) -> anyhow::Result<Bench> {
        let up = upstream::start().await;
        let iss = issuer::Issuer::start().await;
        let tmp = out.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        let dir = tempfile::tempdir_in(tmp)?;
        let policies = dir.path().join("policies");
        std::fs::create_dir_all(&policies)?;
        std::fs::write(
            policies.join("bench.yaml"),
            format!(
                "routes:\n  - name: bench\n    match: {{ host: {HOST}, path: /** }}\n    upstream: {}\n    allow:\n      - {{ name: readers, groups: [{GROUP}], methods: [GET] }}\n",
                up.url()
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
        let client = || {
            reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build()
        };
        let mut bench = Bench {
            running,
            _dir: dir,
            iss,
            scim: client()?,
            proxy: client()?,
            scim_token,
            users: Vec::new(),
            group_id: String::new(),
        };
        for i in 0..POOL {
            let name = format!("revoke-{i:03}@example.com");
            let created = bench
                .scim_send(
                    reqwest::Method::POST,
                    "/Users",
                    &json!({"schemas": [USER_SCHEMA], "userName": name, "active": true}),
                )
                .await?;
            let id = created["id"].as_str().context("user id")?.to_owned();
            let token = bench.iss.token(&name);
            bench.users.push(User { name, id, token });
        }
        let members: Vec<Value> = bench.users.iter().map(|u| json!({"value": u.id})).collect();
        let group = bench
            .scim_send(
                reqwest::Method::POST,
                "/Groups",
                &json!({"schemas": [GROUP_SCHEMA], "displayName": GROUP, "members": members}),
            )
            .await?;
        bench.group_id = group["id"].as_str().context("group id")?.to_owned();
        Ok(bench)
    }

    /// A SCIM request that must succeed; the body of the answer (`Null` when empty).
    async fn scim_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<Value> {
        let url = format!("http://{}/scim/v2{path}", self.running.addr);
        let resp = self
            .scim
            .request(method.clone(), url)
            .bearer_auth(&self.scim_token)
            .header("content-type", SCIM_JSON)
            .body(body.to_string())
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn set_active(&self, user: &User, active: bool) -> anyhow::Result<()> {
        self.scim_send(
            reqwest::Method::PATCH,
            &format!("/Users/{}", user.id),
            &json!({"schemas": [PATCH_SCHEMA],
                   "Operations": [{"op": "replace", "value": {"active": active}}]}),
        )
        .await
        .map(drop)
    }

    async fn set_member(&self, user: &User, member: bool) -> anyhow::Result<()> {
        let op = if member {
            json!({"op": "add", "path": "members", "value": [{"value": user.id}]})
        } else {
            json!({"op": "remove", "path": format!("members[value eq \"{}\"]", user.id)})
        };
        self.scim_send(
            reqwest::Method::PATCH,
            &format!("/Groups/{}", self.group_id),
            &json!({"schemas": [PATCH_SCHEMA], "Operations": [op]}),
        )
        .await
        .map(drop)
    }

    fn get(&self, user: &User, path: &str) -> reqwest::RequestBuilder {
        self.proxy
            .get(format!("http://{}{path}", self.running.addr))
            .header("host", HOST)
            .bearer_auth(&user.token)
    }

    /// The status of a small GET through the proxy, body read.
    async fn status(&self, user: &User) -> anyhow::Result<StatusCode> {
        let resp = self.get(user, "/public/index.html").send().await?;
        let status = resp.status();
        resp.bytes().await?;
        Ok(status)
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
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("bench")
        .join("out");
    std::fs::create_dir_all(&out)?;
    let report = Report::new("revocation")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let bench = Bench::start(&out).await?;
        for name in todo {
            match name {
                "next-request" => next_request(&bench, &report).await?,
                "stream" => stream(&bench, &report).await?,
                _ => {}
            }
        }
        bench.running.stop().await;
        Ok(())
    })
}

/// How access is taken away in a trial.
#[derive(Clone, Copy)]
enum Revocation {
    Deactivate,
    RemoveFromGroup,
}

async fn revoke(b: &Bench, user: &User, how: Revocation) -> anyhow::Result<()> {
    match how {
        Revocation::Deactivate => b.set_active(user, false).await,
        Revocation::RemoveFromGroup => b.set_member(user, false).await,
    }
}

async fn restore(b: &Bench, user: &User, how: Revocation) -> anyhow::Result<()> {
    match how {
        Revocation::Deactivate => b.set_active(user, true).await,
        Revocation::RemoveFromGroup => b.set_member(user, true).await,
    }
}

async fn next_request(b: &Bench, r: &Report) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut violations = [0usize; 2];
    let mut trials = [0usize; 2];
    let mut not_granted = 0usize;
    let mut scim_ms = Vec::with_capacity(NEXT_REQUEST_TRIALS);
    for i in 0..NEXT_REQUEST_TRIALS {
        let user = &b.users[i % POOL];
        let (how, k) = if i % 2 == 0 {
            (Revocation::Deactivate, 0)
        } else {
            (Revocation::RemoveFromGroup, 1)
        };
        if b.status(user).await? != StatusCode::OK {
            // The setup is wrong (the grant did not take); not a revocation figure.
            not_granted += 1;
        }
        let t = Instant::now();
        revoke(b, user, how).await?;
        scim_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let status = b.status(user).await?;
        trials[k] += 1;
        if status != StatusCode::FORBIDDEN {
            violations[k] += 1;
            if violations[k] <= 5 {
                r.note(&format!(
                    "trial {i}: {} answered {status} after the SCIM response",
                    user.name
                ))?;
            }
        }
        restore(b, user, how).await?;
    }
    let wall = started.elapsed().as_secs_f64();
    r.figure("next_request_trials", NEXT_REQUEST_TRIALS as f64, "trials")?;
    r.figure("next_request_deactivate_trials", trials[0] as f64, "trials")?;
    r.figure(
        "next_request_deactivate_violations",
        violations[0] as f64,
        "requests",
    )?;
    r.figure(
        "next_request_group_removal_trials",
        trials[1] as f64,
        "trials",
    )?;
    r.figure(
        "next_request_group_removal_violations",
        violations[1] as f64,
        "requests",
    )?;
    r.figure(
        "next_request_setup_not_granted",
        not_granted as f64,
        "trials",
    )?;
    r.figure("next_request_scim_p50", quantile(&mut scim_ms, 0.50), "ms")?;
    r.figure("next_request_scim_p99", quantile(&mut scim_ms, 0.99), "ms")?;
    r.figure("next_request_wall", wall, "s")?;
    Ok(())
}

/// How a download ended, as the client saw it.
struct Ended {
    at: Instant,
    /// With an error (connection cut) rather than a clean end of body.
    error: bool,
}

async fn drain(mut resp: reqwest::Response) -> Ended {
    loop {
        match resp.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => {
                return Ended {
                    at: Instant::now(),
                    error: false,
                }
            }
            Err(_) => {
                return Ended {
                    at: Instant::now(),
                    error: true,
                }
            }
        }
    }
}

async fn stream(b: &Bench, r: &Report) -> anyhow::Result<()> {
    let mut after_response_ms = Vec::with_capacity(STREAM_TRIALS);
    let mut after_request_ms = Vec::with_capacity(STREAM_TRIALS);
    let (mut before_response, mut clean_end, mut not_cut) = (0usize, 0usize, 0usize);
    for i in 0..STREAM_TRIALS {
        let user = &b.users[i % POOL];
        let mut resp = b.get(user, "/public/slow").send().await?;
        if resp.status() != StatusCode::OK {
            bail!("trial {i}: the download answered {}", resp.status());
        }
        if resp.chunk().await?.is_none() {
            bail!("trial {i}: the download ended before it flowed");
        }
        let reader = tokio::spawn(drain(resp));
        let sent = Instant::now();
        b.set_active(user, false).await?;
        let answered = Instant::now();
        match tokio::time::timeout(CUT_DEADLINE, reader).await {
            Ok(ended) => {
                let ended = ended?;
                let signed_ms = if ended.at >= answered {
                    (ended.at - answered).as_secs_f64() * 1e3
                } else {
                    before_response += 1;
                    -((answered - ended.at).as_secs_f64() * 1e3)
                };
                after_response_ms.push(signed_ms);
                after_request_ms.push((ended.at - sent).as_secs_f64() * 1e3);
                if !ended.error {
                    clean_end += 1;
                }
            }
            Err(_) => not_cut += 1,
        }
        b.set_active(user, true).await?;
    }
    r.figure("stream_trials", STREAM_TRIALS as f64, "trials")?;
    r.figure("stream_not_cut_within_5s", not_cut as f64, "trials")?;
    r.figure(
        "stream_cut_before_scim_response",
        before_response as f64,
        "trials",
    )?;
    r.figure("stream_clean_end_not_error", clean_end as f64, "trials")?;
    r.figure(
        "stream_end_after_response_p50",
        quantile(&mut after_response_ms, 0.50),
        "ms",
    )?;
    r.figure(
        "stream_end_after_response_p99",
        quantile(&mut after_response_ms, 0.99),
        "ms",
    )?;
    r.figure(
        "stream_end_after_response_max",
        quantile(&mut after_response_ms, 1.0),
        "ms",
    )?;
    r.figure(
        "stream_end_after_request_p50",
        quantile(&mut after_request_ms, 0.50),
        "ms",
    )?;
    r.figure(
        "stream_end_after_request_p99",
        quantile(&mut after_request_ms, 0.99),
        "ms",
    )?;
    if not_cut > 0 {
        r.note("downloads not cut within 5 s are left out of the latency quantiles")?;
    }
    Ok(())
}
