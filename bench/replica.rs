//! Replica benchmarks on PostgreSQL (the machine's server at 127.0.0.1:5432, trust
//! auth; each run creates its own databases and drops them):
//!
//! ```text
//! cargo bench --bench replica                 # both
//! cargo bench --bench replica -- revocation   # 1,000 trials: SCIM response on A → first denial on B
//! cargo bench --bench replica -- import       # POST /Users throughput, PostgreSQL vs SQLite
//! ```
//!
//! `revocation`: two in-process replicas on one database, a user who may read (checked
//! on B), a SCIM deactivation sent to A; from A's response, B is asked again and again
//! (one request at a time) until it denies; the figure is the time from A's response to
//! B's first denial (a 403, or a request in flight that B cuts). The user is then reactivated and seen allowed on B again before
//! the next trial. `import`: 8 concurrent keep-alive clients `POST /Users` into an empty
//! store, once on SQLite and once on PostgreSQL, in the same run.
//!
//! `SCIMGATE_BENCH_PG_OPTIONS=sslmode=disable` connects without TLS (the default,
//! `prefer`, uses TLS when the server offers it).
//!
//! Figures are printed as `replica <metric> <value> <unit>` and appended, with the date,
//! to `bench/out/results.txt`. Nothing is hard-coded.

#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/issuer.rs"]
mod issuer;
#[allow(dead_code)] // shared with the other benchmarks
mod report;
#[allow(clippy::expect_used, clippy::unwrap_used)]
#[path = "../tests/it/upstream.rs"]
mod upstream;
use report::Report;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use scimgate::config::{Config, Overrides};
use scimgate::server::{self, Running};
use scimgate::store::{PgStore, SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

const PG: &str = "postgres://postgres@127.0.0.1:5432";
const REVOCATION_TRIALS: usize = 1_000;
/// Users per import run (`SCIMGATE_BENCH_IMPORT_USERS` overrides).
const IMPORT_USERS: usize = 10_000;

fn import_users() -> usize {
    std::env::var("SCIMGATE_BENCH_IMPORT_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(IMPORT_USERS)
}
const IMPORT_CLIENTS: usize = 8;
const POOL: usize = 20;
const HOST: &str = "app.bench";
const SCIM_JSON: &str = "application/scim+json";
const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}

/// A database of its own on the shared server, dropped at the end.
struct Db {
    name: String,
}

impl Db {
    /// Creates it (on a thread of its own: the sync client must not run on the
    /// async runtime).
    fn create() -> anyhow::Result<Db> {
        let name = format!("scimgate_b_{}", uuid::Uuid::new_v4().simple());
        let sql = format!("CREATE DATABASE {name}");
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut c = postgres::Client::connect(&format!("{PG}/postgres"), postgres::NoTls)?;
            c.batch_execute(&sql)?;
            Ok(())
        })
        .join()
        .map_err(|_| anyhow::anyhow!("create thread panicked"))??;
        Ok(Db { name })
    }

    /// The database's URL; `SCIMGATE_BENCH_PG_OPTIONS` (e.g. `sslmode=disable`) is
    /// added as its query.
    fn url(&self) -> String {
        match std::env::var("SCIMGATE_BENCH_PG_OPTIONS") {
            Ok(q) if !q.is_empty() => format!("{PG}/{}?{q}", self.name),
            _ => format!("{PG}/{}", self.name),
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&format!("{PG}/postgres"), postgres::NoTls)
            {
                let _ = c.batch_execute(&sql);
            }
        })
        .join();
    }
}

/// Inserts a SCIM token in `store` on a thread of its own (the sync client must not
/// run on the async runtime).
fn token_in(store: Box<dyn Store>) -> anyhow::Result<String> {
    std::thread::spawn(move || -> anyhow::Result<String> {
        let (token, row) = tokens::issue("bench", TokenScope::Scim, 0);
        store.token_insert(&row)?;
        Ok(token)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("token thread panicked"))?
}

async fn spawn(dir: &Path, yaml: &str, policy: Option<&str>) -> anyhow::Result<Running> {
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies)?;
    if let Some(p) = policy {
        std::fs::write(policies.join("bench.yaml"), p)?;
    }
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        policies_dir: Some(policies),
    };
    let config = Config::from_yaml("bench.yaml", yaml, &overrides)?;
    server::spawn(config).await
}

fn store_yaml(url: &str) -> String {
    format!("store:\n  postgres:\n    url: \"{url}\"\n    max_stale_seconds: 10\n")
}

async fn scim(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut r = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.header("content-type", SCIM_JSON).body(b.to_string());
    }
    let resp = r.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn proxied(http: &reqwest::Client, root: &str, token: &str) -> anyhow::Result<u16> {
    // A request B cuts mid-flight may also end its connection: status 0.
    let Ok(resp) = http
        .get(format!("{root}/x"))
        .header("host", HOST)
        .bearer_auth(token)
        .send()
        .await
    else {
        return Ok(0);
    };
    let status = resp.status().as_u16();
    // 503 "request cancelled": the request was in flight when the revocation reached
    // B, and B cut it (a denial too).
    if !matches!(status, 200 | 403 | 503) {
        // (a connection ended by a cut reads as status 0 above)
        bail!("the proxy answered {status}: {}", resp.text().await?);
    }
    Ok(status)
}

fn set_active(active: bool) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": {"active": active}}]})
}

async fn revocation(r: &Report, tmp: &Path) -> anyhow::Result<()> {
    let db = Db::create()?;
    let url = db.url();
    let store = std::thread::spawn(move || PgStore::open_url(&url, Duration::from_secs(5)))
        .join()
        .map_err(|_| anyhow::anyhow!("open thread panicked"))??;
    let token = token_in(Box::new(store))?;
    let up = upstream::start().await;
    let iss = issuer::Issuer::start().await;
    let policy = format!(
        "routes:\n  - name: bench\n    match: {{ host: {HOST}, path: /** }}\n    upstream: {}\n    allow:\n      - {{ groups: [readers] }}\n",
        up.url()
    );
    let yaml = format!("{}{}", iss.config(), store_yaml(&db.url()));
    let (da, db_dir) = (tempfile::tempdir_in(tmp)?, tempfile::tempdir_in(tmp)?);
    let a = spawn(da.path(), &yaml, Some(&policy)).await?;
    let b = spawn(db_dir.path(), &yaml, Some(&policy)).await?;
    let (ra, rb) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    let http = reqwest::Client::new();
    let mut users = Vec::new();
    for i in 0..POOL {
        let name = format!("rev{i}");
        let (s, v) = scim(
            &http,
            reqwest::Method::POST,
            format!("{ra}/scim/v2/Users"),
            &token,
            Some(json!({"schemas": [USER_SCHEMA], "userName": name, "active": true})),
        )
        .await?;
        if s != 201 {
            bail!("create user: {s} {v}");
        }
        let id = v["id"].as_str().context("user id")?.to_owned();
        users.push((id, iss.token(&name)));
    }
    let members: Vec<Value> = users.iter().map(|(id, _)| json!({"value": id})).collect();
    let (s, v) = scim(
        &http,
        reqwest::Method::POST,
        format!("{ra}/scim/v2/Groups"),
        &token,
        Some(json!({"schemas": [GROUP_SCHEMA], "displayName": "readers", "members": members})),
    )
    .await?;
    if s != 201 {
        bail!("create group: {s} {v}");
    }
    let mut ms = Vec::with_capacity(REVOCATION_TRIALS);
    let mut polls = 0usize;
    for trial in 0..REVOCATION_TRIALS {
        let (id, jwt) = &users[trial % POOL];
        // Allowed on B first (after the previous trial's reactivation reached it).
        let t = Instant::now();
        while proxied(&http, &rb, jwt).await? != 200 {
            if t.elapsed() > Duration::from_secs(10) {
                bail!("trial {trial}: B never allowed the reactivated user");
            }
        }
        let (s, _) = scim(
            &http,
            reqwest::Method::PATCH,
            format!("{ra}/scim/v2/Users/{id}"),
            &token,
            Some(set_active(false)),
        )
        .await?;
        if s != 200 {
            bail!("trial {trial}: deactivation answered {s}");
        }
        let acked = Instant::now();
        loop {
            polls += 1;
            match proxied(&http, &rb, jwt).await? {
                0 | 403 | 503 => break,
                200 if acked.elapsed() < Duration::from_secs(10) => continue,
                other => bail!("trial {trial}: B answered {other}"),
            }
        }
        ms.push(acked.elapsed().as_secs_f64() * 1e3);
        let (s, _) = scim(
            &http,
            reqwest::Method::PATCH,
            format!("{ra}/scim/v2/Users/{id}"),
            &token,
            Some(set_active(true)),
        )
        .await?;
        if s != 200 {
            bail!("trial {trial}: reactivation answered {s}");
        }
    }
    r.figure("cross_replica_revocation_trials", ms.len() as f64, "trials")?;
    r.figure("cross_replica_revocation_p50", quantile(&mut ms, 0.5), "ms")?;
    r.figure(
        "cross_replica_revocation_p99",
        quantile(&mut ms, 0.99),
        "ms",
    )?;
    r.figure("cross_replica_revocation_max", quantile(&mut ms, 1.0), "ms")?;
    r.figure(
        "cross_replica_revocation_polls_per_trial",
        polls as f64 / REVOCATION_TRIALS as f64,
        "requests",
    )?;
    a.stop().await;
    b.stop().await;
    Ok(())
}

/// Imports `IMPORT_USERS` users into `root` from 8 clients; users per second.
async fn import_into(root: &str, token: &str, label: &str) -> anyhow::Result<f64> {
    let total = import_users();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t0 = Instant::now();
    let clients: Vec<_> = (0..IMPORT_CLIENTS)
        .map(|_| {
            let (next, root, token, label) =
                (next.clone(), root.to_owned(), token.to_owned(), label.to_owned());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= total {
                        return Ok::<_, anyhow::Error>(());
                    }
                    let body = json!({"schemas": [USER_SCHEMA], "userName": format!("{label}-{i}@example.com"),
                        "externalId": format!("ext-{i}"), "active": true,
                        "emails": [{"value": format!("{label}-{i}@example.com"), "type": "work", "primary": true}]});
                    let (s, v) = scim(&http, reqwest::Method::POST, format!("{root}/scim/v2/Users"), &token, Some(body)).await?;
                    if s != 201 {
                        bail!("import: {s} {v}");
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.await??;
    }
    Ok(total as f64 / t0.elapsed().as_secs_f64())
}

async fn import(r: &Report, tmp: &Path) -> anyhow::Result<()> {
    // SQLite.
    let dir = tempfile::tempdir_in(tmp)?;
    let token = token_in(Box::new(SqliteStore::open(
        &dir.path().join("scimgate.db"),
    )?))?;
    let s = spawn(dir.path(), "", None).await?;
    let sqlite = import_into(&format!("http://{}", s.addr), &token, "sqlite").await?;
    s.stop().await;
    // PostgreSQL.
    let db = Db::create()?;
    let url = db.url();
    let store = std::thread::spawn(move || PgStore::open_url(&url, Duration::from_secs(5)))
        .join()
        .map_err(|_| anyhow::anyhow!("open thread panicked"))??;
    let token = token_in(Box::new(store))?;
    let dir = tempfile::tempdir_in(tmp)?;
    let p = spawn(dir.path(), &store_yaml(&db.url()), None).await?;
    let pg = import_into(&format!("http://{}", p.addr), &token, "pg").await?;
    p.stop().await;
    r.figure("import_users", import_users() as f64, "users")?;
    r.figure("import_sqlite", sqlite, "users/s")?;
    r.figure("import_postgres", pg, "users/s")?;
    r.figure("import_postgres_vs_sqlite", pg / sqlite, "ratio")?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let which: Vec<&str> = if args.is_empty() {
        vec!["revocation", "import"]
    } else {
        args.iter().map(String::as_str).collect()
    };
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/out");
    let tmp = out.join("tmp");
    std::fs::create_dir_all(&tmp)?;
    let report = Report::new("replica")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for w in which {
        match w {
            "revocation" => rt.block_on(revocation(&report, &tmp))?,
            "import" => rt.block_on(import(&report, &tmp))?,
            other => bail!("unknown bench {other:?}; known: revocation, import"),
        }
    }
    Ok(())
}
