//! The server under test: `scimgate serve` as a child process on a data directory,
//! killed with SIGKILL; and the one-shot commands run on the same directory.

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context};
use parking_lot::Mutex;

use crate::binary;

/// A `scimgate serve` child process; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Arc<Mutex<Child>>,
    pub base: String,
}

impl Server {
    /// Starts the binary on a free loopback port and waits until it answers.
    pub async fn start(data: &Path, log: &Path) -> anyhow::Result<Server> {
        let mut last_err = anyhow!("not started");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let log_file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)?;
            let child = binary::command()
                .arg("serve")
                .arg("--data")
                .arg(data)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .env("RUST_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .context("spawning scimgate serve")?;
            let server = Server {
                child: Arc::new(Mutex::new(child)),
                base: format!("http://127.0.0.1:{port}"),
            };
            match server.wait_ready().await {
                Ok(()) => return Ok(server),
                // Most likely the port was taken between our probe and its bind: retry.
                Err(e) => last_err = e,
            }
        }
        Err(last_err.context(format!("server log:\n{}", tail(log))))
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.lock().try_wait()? {
                bail!("scimgate exited during start: {status}");
            }
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return Ok(());
                }
            }
            ensure!(
                Instant::now() < deadline,
                "scimgate did not answer within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn scim(&self) -> String {
        format!("{}/scim/v2", self.base)
    }
}

/// SIGKILL, then reap.
pub fn kill(child: &Mutex<Child>) {
    let mut c = child.lock();
    let _ = c.kill();
    let _ = c.wait();
}

impl Drop for Server {
    fn drop(&mut self) {
        kill(&self.child);
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// `scimgate token create` on `data`: a SCIM token.
pub fn create_token(data: &Path) -> anyhow::Result<String> {
    let out = binary::run(data, &["token", "create", "crash-idp"]);
    ensure!(
        out.status.success(),
        "token create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?.trim().to_owned();
    ensure!(!token.is_empty(), "token create printed nothing");
    Ok(token)
}

/// `scimgate audit verify` on `data`, beside the running server: the number of records
/// of the intact chain, or an error saying where it is broken.
pub fn audit_verify(data: &Path) -> anyhow::Result<u64> {
    let out = binary::run(data, &["audit", "verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "audit verify failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .strip_prefix("audit chain intact: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| anyhow!("audit verify printed {stdout:?}"))
}
