//! SCIM benchmarks, run one at a time:
//!
//! ```text
//! cargo bench --bench scim -- import      # 100,000 creates over HTTP, 8 clients
//! cargo bench --bench scim -- big-group   # PATCH add: 100,000-member vs 10-member group
//! cargo bench --bench scim -- lookup      # userName eq: 1,000,000 vs 1,000 users
//! cargo bench --bench scim -- scale       # release binary start-up and peak RSS
//! ```
//!
//! Each figure is printed on its own line (`<bench> <metric> <value> <unit>`) and
//! appended, with the date, to `bench/out/results.txt`. Large seeded data sets are kept
//! in `bench/out/data/` and reused; see `bench/README.md`.

mod load;
#[allow(dead_code)] // shared with the other benchmarks
mod report;
mod seed;
use report::Report;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use load::Samples;
use scimgate::directory::writer::{Command, Writer, WriterSettings};
use scimgate::directory::Directory;
use scimgate::record::{
    Actor, GroupDraft, GroupRecord, Member, MemberChange, SnapshotSink, UserRecord,
};
use scimgate::store::{SqliteStore, Store};
use seed::Spec;

const BENCHES: &[&str] = &["import", "big-group", "lookup", "scale"];
const SCIM_JSON: &str = "application/scim+json";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

fn main() -> anyhow::Result<()> {
    // `cargo bench` appends `--bench`; names are the other arguments.
    let names: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if names.is_empty() {
        println!(
            "usage: cargo bench --bench scim -- <{}|all>",
            BENCHES.join("|")
        );
        return Ok(());
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("bench").join("out");
    std::fs::create_dir_all(&out)?;
    let report = Report::new("scim")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for name in &names {
        let todo: Vec<&str> = if name == "all" {
            BENCHES.to_vec()
        } else {
            vec![name.as_str()]
        };
        for b in todo {
            match b {
                "import" => rt.block_on(import(&report))?,
                "big-group" => rt.block_on(big_group(&report))?,
                "lookup" => rt.block_on(lookup(&report))?,
                "scale" => rt.block_on(scale(&report, &root))?,
                other => bail!("unknown benchmark {other:?}; one of {}", BENCHES.join(", ")),
            }
        }
    }
    Ok(())
}

async fn body_text(resp: reqwest::Response) -> String {
    resp.text().await.unwrap_or_default()
}

// ---- import ----

const IMPORT_USERS: u32 = 100_000;
const IMPORT_CLIENTS: u32 = 8;

async fn import(r: &Report) -> anyhow::Result<()> {
    let tmp = r.tempdir()?;
    let data = tmp.path();
    let token = seed::seed(
        data,
        &Spec {
            users: 0,
            groups: Vec::new(),
            memberships: Vec::new(),
        },
    )?;
    r.for_bench("import")
        .figure("fsync_p50", fsync_p50_us(data)?, "us")?;
    let (running, base) = load::spawn(data).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..IMPORT_CLIENTS {
        let (base, token) = (base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let http = load::client()?;
            let mut samples = Samples::default();
            let mut n = c;
            while n < IMPORT_USERS {
                let body = seed::user_resource(n).to_string();
                let t = Instant::now();
                let resp = http
                    .post(format!("{base}/Users"))
                    .bearer_auth(&token)
                    .header("content-type", SCIM_JSON)
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                let text = body_text(resp).await;
                samples.push(t.elapsed());
                if status != reqwest::StatusCode::CREATED {
                    bail!("POST /Users: {status} {text}");
                }
                n += IMPORT_CLIENTS;
            }
            Ok::<_, anyhow::Error>(samples)
        }));
    }
    let mut all = Samples::default();
    for t in tasks {
        all.extend(t.await??);
    }
    let wall = started.elapsed();
    let count = running.directory.user_count();
    running.stop().await;
    if count != IMPORT_USERS as usize {
        bail!("the directory holds {count} users after importing {IMPORT_USERS}");
    }
    r.for_bench("import")
        .figure("users", f64::from(IMPORT_USERS), "users")?;
    r.for_bench("import")
        .figure("clients", f64::from(IMPORT_CLIENTS), "connections")?;
    r.for_bench("import")
        .figure("wall", wall.as_secs_f64(), "s")?;
    r.for_bench("import").figure(
        "throughput",
        f64::from(IMPORT_USERS) / wall.as_secs_f64(),
        "users/s",
    )?;
    r.for_bench("import")
        .figure("latency_p50", all.quantile_us(0.50), "us")?;
    r.for_bench("import")
        .figure("latency_p99", all.quantile_us(0.99), "us")?;
    r.for_bench("import")
        .figure("latency_max", all.quantile_us(1.0), "us")?;
    Ok(())
}

/// The median time of a 4 KiB write plus `fdatasync` in `dir`: the floor under one commit.
fn fsync_p50_us(dir: &Path) -> anyhow::Result<f64> {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path)?;
    let block = [7u8; 4096];
    let mut s = Samples::default();
    for _ in 0..200 {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        s.push(t.elapsed());
    }
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(s.quantile_us(0.5))
}

// ---- big-group ----

const BIG: u32 = 100_000;
const SMALL: u32 = 10;
const GROUP_SAMPLES: u32 = 300;
const GROUP_WARMUP: u32 = 20;

async fn big_group(r: &Report) -> anyhow::Result<()> {
    let tmp = r.tempdir()?;
    let data = tmp.path();
    // Users 0..BIG are in the big group, the next SMALL in the small one; the rest are
    // added, one per sample, to both.
    let extra_from = BIG + SMALL;
    let spec = Spec {
        users: extra_from + GROUP_WARMUP + GROUP_SAMPLES,
        groups: vec!["All Employees".into(), "Data Platform".into()],
        memberships: (0..BIG)
            .map(|u| (0, u))
            .chain((BIG..extra_from).map(|u| (1, u)))
            .collect(),
    };
    let token = seed::seed(data, &spec)?;
    let big_id = seed::seeded_id(2, 0);
    let small_id = seed::seeded_id(2, 1);
    let user_id = |i: u32| seed::seeded_id(1, extra_from + i);

    let (running, base) = load::spawn(data).await?;
    let http = load::client()?;
    let patch = |group: &str, user: &str| {
        let body = json!({
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}],
        });
        http.patch(format!("{base}/Groups/{group}"))
            .bearer_auth(&token)
            .header("content-type", SCIM_JSON)
            .body(body.to_string())
    };
    let probe = patch(&small_id, &user_id(0)).send().await?;
    let via_http = probe.status().is_success();
    if !via_http {
        let status = probe.status();
        let text = body_text(probe).await;
        r.for_bench("big-group").note(&format!(
            "group PATCH answered {status} ({}); measuring the directory writer \
                 (plan + store commit + cache apply) without HTTP instead",
            text.chars().take(120).collect::<String>()
        ))?;
    }
    let (mut big, mut small) = (Samples::default(), Samples::default());
    if via_http {
        for i in 0..GROUP_WARMUP + GROUP_SAMPLES {
            let user = user_id(i);
            for first_big in [i % 2 == 0, i % 2 != 0] {
                let group = if first_big { &big_id } else { &small_id };
                let t = Instant::now();
                let resp = patch(group, &user).send().await?;
                let took = t.elapsed();
                let status = resp.status();
                let text = body_text(resp).await;
                if !status.is_success() {
                    bail!("PATCH /Groups/{group}: {status} {text}");
                }
                if i >= GROUP_WARMUP {
                    if first_big { &mut big } else { &mut small }.push(took);
                }
            }
        }
        let members = running.directory.member_count(0);
        running.stop().await;
        if members != (BIG + GROUP_WARMUP + GROUP_SAMPLES) as usize {
            bail!("the big group has {members} members after the run");
        }
    } else {
        running.stop().await;
        (big, small) = group_adds_via_writer(data, &big_id, &small_id, &user_id).await?;
    }
    let (b, s) = (big.quantile_us(0.5), small.quantile_us(0.5));
    let via = if via_http { "http" } else { "writer" };
    r.for_bench("big-group")
        .figure("samples", big.len() as f64, "per group")?;
    r.for_bench("big-group")
        .figure(&format!("{via}_median_100k"), b, "us")?;
    r.for_bench("big-group")
        .figure(&format!("{via}_median_10"), s, "us")?;
    r.for_bench("big-group")
        .figure(&format!("{via}_p99_100k"), big.quantile_us(0.99), "us")?;
    r.for_bench("big-group")
        .figure(&format!("{via}_p99_10"), small.quantile_us(0.99), "us")?;
    r.for_bench("big-group")
        .figure(&format!("{via}_ratio"), b / s, "x (target <= 1.5)")?;
    Ok(())
}

/// The same member additions submitted to the directory writer directly.
async fn group_adds_via_writer(
    data: &Path,
    big_id: &str,
    small_id: &str,
    user_id: &dyn Fn(u32) -> String,
) -> anyhow::Result<(Samples, Samples)> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&data.join("scimgate.db"))?);
    let loader = store.clone();
    let dir = Arc::new(tokio::task::spawn_blocking(move || Directory::load(&*loader)).await??);
    let (writer, writing) = Writer::start(
        dir.clone(),
        store,
        scimgate::clock::system(),
        WriterSettings::default(),
        tokio_util::sync::CancellationToken::new(),
    );
    // Ends when `writer`, the only handle, is dropped at the end of this function.
    tokio::spawn(writing);
    let actor = Actor::Scim {
        token: "bench".into(),
    };
    let (mut big, mut small) = (Samples::default(), Samples::default());
    for i in 0..GROUP_WARMUP + GROUP_SAMPLES {
        let user = user_id(i);
        for first_big in [i % 2 == 0, i % 2 != 0] {
            let group = if first_big { big_id } else { small_id };
            let add = user.clone();
            let cmd = Command::UpdateGroup {
                id: group.to_owned(),
                if_match: None,
                mutate: Arc::new(move |cur: &GroupRecord| {
                    Ok((
                        GroupDraft {
                            display_name: cur.display_name.to_string(),
                            external_id: cur.external_id.as_deref().map(str::to_owned),
                            body: cur.body.text().into_owned(),
                        },
                        MemberChange {
                            replace_all: false,
                            add: vec![add.clone()],
                            remove: Vec::new(),
                        },
                    ))
                }),
                action: "group.patch",
            };
            let t = Instant::now();
            writer
                .submit(actor.clone(), cmd)
                .await
                .with_context(|| format!("adding {user} to {group}"))?;
            if i >= GROUP_WARMUP {
                if first_big { &mut big } else { &mut small }.push(t.elapsed());
            }
        }
    }
    Ok((big, small))
}

// ---- lookup ----

const LOOKUP_SAMPLES: u32 = 2_000;

fn users_only(users: u32) -> Spec {
    Spec {
        users,
        groups: Vec::new(),
        memberships: Vec::new(),
    }
}

async fn lookup(r: &Report) -> anyhow::Result<()> {
    let sizes: [u32; 2] = [1_000_000, 1_000];
    let (big_dir, big_token) = seed::cached(&r.out, "users-1m-v2", || users_only(sizes[0]))?;
    let (small_dir, small_token) = seed::cached(&r.out, "users-1k-v2", || users_only(sizes[1]))?;
    r.for_bench("lookup")
        .figure("user_body_bytes", seed::mean_body_bytes(1000)?, "B")?;
    let t = Instant::now();
    let (big_srv, big_base) = load::spawn(&big_dir).await?;
    r.for_bench("lookup")
        .figure("load_1m_in_process", t.elapsed().as_secs_f64(), "s")?;
    let (small_srv, small_base) = load::spawn(&small_dir).await?;
    let servers = [(big_base, big_token), (small_base, small_token)];
    let http = load::client()?;

    let by_filter = |k: usize, n: u32| {
        let (base, token) = &servers[k];
        http.get(format!("{base}/Users"))
            .query(&[("filter", format!("userName eq \"{}\"", seed::user_name(n)))])
            .bearer_auth(token)
    };
    let by_id = |k: usize, n: u32| {
        let (base, token) = &servers[k];
        http.get(format!("{base}/Users/{}", seed::seeded_id(1, n)))
            .bearer_auth(token)
    };
    let probe = by_filter(1, 0).send().await?;
    let filter_works = probe.status().is_success();
    if !filter_works {
        let status = probe.status();
        let text = body_text(probe).await;
        r.for_bench("lookup").note(&format!(
            "filter answered {status} ({}); measuring GET /Users/{{id}} (the id index) instead",
            text.chars().take(120).collect::<String>()
        ))?;
    }
    let mut samples = [Samples::default(), Samples::default()];
    for i in 0..LOOKUP_SAMPLES + 100 {
        for k in [(i % 2) as usize, 1 - (i % 2) as usize] {
            let n = (seed::mix((u64::from(i) << 1) | k as u64) % u64::from(sizes[k])) as u32;
            let req = if filter_works {
                by_filter(k, n)
            } else {
                by_id(k, n)
            };
            let t = Instant::now();
            let resp = req.send().await?;
            let status = resp.status();
            let text = body_text(resp).await;
            let took = t.elapsed();
            if !status.is_success() {
                bail!("lookup of user {n}: {status} {text}");
            }
            if filter_works {
                let v: Value = serde_json::from_str(&text)?;
                if v["totalResults"] != json!(1) {
                    bail!(
                        "lookup of {} found {}",
                        seed::user_name(n),
                        v["totalResults"]
                    );
                }
            }
            if i >= 100 {
                samples[k].push(took);
            }
        }
    }
    big_srv.stop().await;
    small_srv.stop().await;
    let via = if filter_works { "filter" } else { "by_id" };
    let (b, s) = (samples[0].quantile_us(0.5), samples[1].quantile_us(0.5));
    r.for_bench("lookup")
        .figure("samples", samples[0].len() as f64, "per size")?;
    r.for_bench("lookup")
        .figure(&format!("{via}_median_1m"), b, "us")?;
    r.for_bench("lookup")
        .figure(&format!("{via}_median_1k"), s, "us")?;
    r.for_bench("lookup")
        .figure(&format!("{via}_p99_1m"), samples[0].quantile_us(0.99), "us")?;
    r.for_bench("lookup")
        .figure(&format!("{via}_p99_1k"), samples[1].quantile_us(0.99), "us")?;
    r.for_bench("lookup")
        .figure(&format!("{via}_ratio"), b / s, "x (target <= 1.5)")?;
    Ok(())
}

// ---- scale ----

const SCALE_USERS: u32 = 1_000_000;
const SCALE_GROUPS: u32 = 10_000;
/// Groups each user is in besides the all-employees group.
const SCALE_EXTRA_GROUPS: u64 = 4;

/// 1M users, 10k groups; everyone in group 0, plus 4 other groups each: 5M memberships.
fn scale_spec() -> Spec {
    let mut groups = vec!["All Employees".to_owned()];
    groups.extend((1..SCALE_GROUPS).map(|g| format!("team-{g:05}")));
    let mut memberships = Vec::with_capacity((SCALE_USERS as usize) * 5);
    for u in 0..SCALE_USERS {
        memberships.push((0, u));
        let h = seed::mix(u64::from(u) | (7 << 40));
        // Four distinct groups in 1..SCALE_GROUPS.
        let span = u64::from(SCALE_GROUPS - 1);
        let first = h % span;
        let step = 1 + (h >> 20) % (span / SCALE_EXTRA_GROUPS - 1);
        for k in 0..SCALE_EXTRA_GROUPS {
            memberships.push((1 + ((first + k * step) % span) as u32, u));
        }
    }
    Spec {
        users: SCALE_USERS,
        groups,
        memberships,
    }
}

async fn scale(r: &Report, root: &Path) -> anyhow::Result<()> {
    let (data, token) = seed::cached(&r.out, "scale-1m-10k-5m-v2", scale_spec)?;
    let bin = load::release_binary(root)?;
    let log = r.out.join("scale-server.log");
    let db_bytes = std::fs::metadata(data.join("scimgate.db"))?.len();
    r.for_bench("scale")
        .figure("user_body_bytes", seed::mean_body_bytes(1000)?, "B")?;
    r.for_bench("scale")
        .figure("db_size", db_bytes as f64 / 1048576.0, "MiB")?;

    let since = Instant::now();
    let mut server = load::start_binary(&bin, &data, &log)?;
    let startup = load::wait_ready(&mut server, since).await?;
    let pid = server.child.id();
    let hwm_start = load::proc_status_bytes(pid, "VmHWM")?;
    // It answers SCIM with everything loaded.
    let http = load::client()?;
    let base = format!("{}/scim/v2", server.base);
    let users: Value = http
        .get(format!("{base}/Users?count=1"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    let groups: Value = http
        .get(format!("{base}/Groups?count=1&excludedAttributes=members"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    if users["totalResults"] != json!(SCALE_USERS) || groups["totalResults"] != json!(SCALE_GROUPS)
    {
        bail!(
            "the server lists {} users and {} groups",
            users["totalResults"],
            groups["totalResults"]
        );
    }
    let hwm = load::proc_status_bytes(pid, "VmHWM")?;
    let rss = load::proc_status_bytes(pid, "VmRSS")?;
    drop(server);
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    r.for_bench("scale")
        .figure("startup", startup.as_secs_f64(), "s (target <= 8)")?;
    r.for_bench("scale")
        .figure("peak_rss_at_ready", gib(hwm_start), "GiB")?;
    r.for_bench("scale")
        .figure("peak_rss", gib(hwm), "GiB (target <= 1.0)")?;
    r.for_bench("scale").figure("rss", gib(rss), "GiB")?;
    if let Some(ms) = loaded_ms(&log) {
        r.for_bench("scale")
            .figure("server_reported_load", ms / 1000.0, "s")?;
    }

    // Where start-up goes: the store read alone (rows handed to a sink that drops
    // them), then the read streamed into the directory build as the server does it,
    // with this process's resident memory after it.
    let own = std::process::id();
    let path = data.join("scimgate.db");
    let store = SqliteStore::open(&path)?;
    let t = Instant::now();
    let mut rows = RowCount::default();
    store.load_into(&mut rows)?;
    r.for_bench("scale")
        .figure("phase_store_read", t.elapsed().as_secs_f64(), "s")?;
    if (rows.users, rows.groups, rows.memberships)
        != (
            SCALE_USERS as usize,
            SCALE_GROUPS as usize,
            SCALE_USERS as usize * 5,
        )
    {
        bail!(
            "read {} users, {} groups and {} memberships",
            rows.users,
            rows.groups,
            rows.memberships
        );
    }
    let rss0 = load::proc_status_bytes(own, "VmRSS")?;
    let hwm0 = load::proc_status_bytes(own, "VmHWM")?;
    let t = Instant::now();
    let dir = tokio::task::spawn_blocking(move || Directory::load(&store)).await??;
    r.for_bench("scale").figure(
        "phase_load",
        t.elapsed().as_secs_f64(),
        "s (read and build)",
    )?;
    let rss2 = load::proc_status_bytes(own, "VmRSS")?;
    let hwm2 = load::proc_status_bytes(own, "VmHWM")?;
    r.for_bench("scale")
        .figure("directory_rss", gib(rss2.saturating_sub(rss0)), "GiB")?;
    r.for_bench("scale").figure(
        "load_peak_over_directory",
        (hwm2.saturating_sub(hwm0.max(rss2))) as f64 / 1048576.0,
        "MiB (transient during the load)",
    )?;
    r.for_bench("scale").figure(
        "directory_bytes_per_user",
        rss2.saturating_sub(rss0) as f64 / f64::from(SCALE_USERS),
        "B (users, indexes, 5 memberships each)",
    )?;
    let t = Instant::now();
    let memberships = dir.membership_count();
    drop(dir);
    r.for_bench("scale")
        .figure("phase_drop", t.elapsed().as_secs_f64(), "s")?;
    if memberships != SCALE_USERS as usize * 5 {
        bail!("{memberships} memberships loaded");
    }
    Ok(())
}

/// Counts the rows a store hands over, keeping none.
#[derive(Default)]
struct RowCount {
    users: usize,
    groups: usize,
    memberships: usize,
}

impl SnapshotSink for RowCount {
    fn user(&mut self, _: UserRecord) {
        self.users += 1;
    }
    fn group(&mut self, _: GroupRecord) {
        self.groups += 1;
    }
    fn membership(&mut self, _: u32, _: Member) {
        self.memberships += 1;
    }
    fn last_seq(&mut self, _: u64) {}
}

/// `elapsed_ms` of the server's "directory loaded" log line.
fn loaded_ms(log: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().find(|l| l.contains("directory loaded"))?;
    let plain: String = strip_ansi(line);
    let rest = plain.split("elapsed_ms=").nth(1)?;
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
