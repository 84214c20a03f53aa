//! Running servers (in-process or the release binary) and measuring requests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use scimgate::config::{Config, Overrides};
use scimgate::server::{self, Running};

/// Latency samples.
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0..=1), in microseconds.
    pub fn quantile_us(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let i = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[i].as_secs_f64() * 1e6
    }
}

/// An in-process server on 127.0.0.1:0 over the data directory `data`.
pub async fn spawn(data: &Path) -> anyhow::Result<(Running, String)> {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(data.to_path_buf()),
        ..Default::default()
    };
    let config = Config::from_yaml("bench.yaml", "", &overrides)?;
    let running = server::spawn(config).await?;
    let base = format!("http://{}/scim/v2", running.addr);
    Ok((running, base))
}

/// A client that keeps one connection alive.
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// The release binary: the one `SCIMGATE_BIN` names (`bench/hostile` builds it first,
/// since a bench run by `cargo bench` cannot run cargo again while cargo holds the build
/// lock), else the release build, built first if needed.
pub fn release_binary(root: &Path) -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("SCIMGATE_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "scimgate"])
        .current_dir(root)
        .status()
        .context("running cargo build --release")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release").join("scimgate"))
}

/// `scimgate serve` as a child process; killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary on a free port, logging to `log`; does not wait for it.
pub fn start_binary(bin: &Path, data: &Path, log: &Path) -> anyhow::Result<ServerProcess> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(bin)
        .arg("serve")
        .arg("--data")
        .arg(data)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("SCIMGATE_CONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()?;
    Ok(ServerProcess {
        child,
        base: format!("http://127.0.0.1:{port}"),
    })
}

/// Waits until `/healthz` answers; the time it took from `since`.
pub async fn wait_ready(c: &mut ServerProcess, since: Instant) -> anyhow::Result<Duration> {
    let http = reqwest::Client::new();
    loop {
        if let Some(status) = c.child.try_wait()? {
            bail!("scimgate exited during start: {status}");
        }
        if let Ok(r) = http.get(format!("{}/healthz", c.base)).send().await {
            if r.status().is_success() {
                return Ok(since.elapsed());
            }
        }
        if since.elapsed() > Duration::from_secs(600) {
            bail!("scimgate did not answer within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A `VmXxx:` figure from /proc/<pid>/status, in bytes.
pub fn proc_status_bytes(pid: u32, field: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(field).and_then(|r| r.strip_prefix(':')) {
            let kb: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .with_context(|| format!("{field}: {rest}"))?;
            return Ok(kb * 1024);
        }
    }
    bail!("no {field} in /proc/{pid}/status")
}
