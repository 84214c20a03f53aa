//! A proxy served by the real binary in a process of its own, for what can only be
//! observed on the server alone: its resident memory (read from `/proc/<pid>/status`,
//! see [`Memory`]) and its signals. The fake upstream and the token issuer run in the
//! test; the policy is one file, `app.yaml`; users are provisioned over SCIM.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scimgate::tokens::TokenScope;

use crate::binary::{self, Serve};
use crate::issuer::Issuer;
use crate::support::{self, group_body, user_body, with_json};

/// `scimgate serve` in front of a fake upstream.
pub struct Served {
    pub serve: Serve,
    pub addr: SocketAddr,
    pub iss: Issuer,
    pub http: reqwest::Client,
    /// The policy directory (`app.yaml` in it).
    pub policies: PathBuf,
    token: String,
    _dir: tempfile::TempDir,
}

impl Served {
    /// Starts the binary with `policy` as `app.yaml`, trusting `iss` for bearer tokens,
    /// with `extra` configuration; returns once it listens.
    pub async fn start(iss: Issuer, policy: &str, extra: &str) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = binary::config(&data, &format!("{}{extra}", iss.config()));
        let policies = data.join("policies");
        std::fs::write(policies.join("app.yaml"), policy).unwrap();
        let token = support::create_token(&data, "idp", TokenScope::Scim);
        let mut serve = binary::spawn(dir.path(), "gate", &config);
        let addr = serve.addr().await;
        Served {
            serve,
            addr,
            iss,
            http: reqwest::Client::new(),
            policies,
            token,
            _dir: dir,
        }
    }

    /// Creates the active user `name` and the group `readers` with it as its one
    /// member (once per server).
    pub async fn reader(&self, name: &str) {
        let scim = format!("http://{}/scim/v2", self.addr);
        let post = |path: &str| {
            self.http
                .post(format!("{scim}{path}"))
                .bearer_auth(&self.token)
        };
        let user = support::send(with_json(post("/Users"), &user_body(name)))
            .await
            .expect(201)
            .id();
        support::send(with_json(post("/Groups"), &group_body("readers", &[&user])))
            .await
            .expect(201);
    }

    /// Creates the user of this SCIM body; its id.
    pub async fn user(&self, body: &serde_json::Value) -> String {
        self.scim_post("/Users", body).await
    }

    /// Creates the group `name` with these member ids; its id.
    pub async fn group(&self, name: &str, members: &[&str]) -> String {
        self.scim_post("/Groups", &group_body(name, members)).await
    }

    async fn scim_post(&self, path: &str, body: &serde_json::Value) -> String {
        let url = format!("http://{}/scim/v2{path}", self.addr);
        let req = self.http.post(url).bearer_auth(&self.token);
        support::send(with_json(req, body)).await.expect(201).id()
    }

    /// The data directory (the store, the policies under it).
    pub fn data(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// A request through the proxy with Host `host` and a bearer token for `user`.
    pub fn request(
        &self,
        method: reqwest::Method,
        host: &str,
        path: &str,
        user: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("http://{}{path}", self.addr))
            .header("host", host)
            .bearer_auth(self.iss.token(user))
    }

    /// The status of a GET through the proxy.
    pub async fn status(&self, host: &str, path: &str, user: &str) -> u16 {
        self.request(reqwest::Method::GET, host, path, user)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// The server process's memory now.
    pub fn memory(&self) -> Memory {
        Memory::of(self.serve.pid())
    }

    /// Starts a new peak: the kernel sets the server's high-water mark (`VmHWM`) back to
    /// its resident size. Returns the memory after (its `peak` is the baseline of a
    /// later [`Memory::peak`]; where the reset is not allowed it is the peak so far,
    /// which only makes a later growth look smaller).
    pub fn new_peak(&self) -> Memory {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.serve.pid()), "5");
        self.memory()
    }
}

/// A process's resident memory, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// `VmRSS`: resident now (bytes).
    pub rss: u64,
    /// `VmHWM`: the most it was resident since it started or since
    /// [`Served::new_peak`] (bytes).
    pub peak: u64,
}

impl Memory {
    pub fn of(pid: u32) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb * 1024)
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        };
        Memory {
            rss: field("VmRSS:"),
            peak: field("VmHWM:"),
        }
    }
}

/// Mebibytes, for messages.
pub fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

/// Waits while one side of a transfer is held back until the other side stops:
/// `progress` (bytes) stays the same over ten samples 50 ms apart, or reaches `total`.
/// Returns where it stopped and the server's largest resident size sampled meanwhile.
/// A server that streams stops the other side after a few socket buffers; one that
/// buffers lets it run to `total`.
pub async fn until_stopped(progress: &AtomicU64, total: u64, served: &Served) -> (u64, u64) {
    let mut last = progress.load(Ordering::Relaxed);
    let mut same = 0;
    let mut largest = served.memory().rss;
    while same < 10 && last < total {
        tokio::time::sleep(Duration::from_millis(50)).await;
        largest = largest.max(served.memory().rss);
        let now = progress.load(Ordering::Relaxed);
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    (last, largest)
}

/// The most that can be in flight between the two ends of a proxied transfer: two TCP
/// connections on loopback, each with a send and a receive buffer at the kernel's
/// largest (`tcp_wmem`, `tcp_rmem`), and 16 MiB for the programs' own buffers. A side
/// held back stops the other within this; a server that buffers does not.
pub fn in_flight_bound() -> u64 {
    let largest = |file: &str, default: u64| {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
            .unwrap_or(default)
    };
    let receive = largest("/proc/sys/net/ipv4/tcp_rmem", 6 << 20);
    let send = largest("/proc/sys/net/ipv4/tcp_wmem", 4 << 20);
    2 * (receive + send) + (16 << 20)
}

/// How much the server's resident memory may grow while a large body passes: a quarter
/// of the 256 MiB the memory tests send.
pub const GROWTH: u64 = 64 << 20;

/// The server's resident memory grew by less than [`GROWTH`] over `baseline`: in the
/// middle of the transfer (`mid`) and at its peak over the whole transfer.
#[track_caller]
pub fn assert_growth(baseline: u64, mid: u64, peak: u64) {
    let mid = mid.saturating_sub(baseline);
    let peak = peak.saturating_sub(baseline);
    assert!(
        mid < GROWTH,
        "the server's RSS grew by {} MiB mid-transfer",
        mib(mid)
    );
    assert!(
        peak < GROWTH,
        "the server's RSS peaked {} MiB over its baseline",
        mib(peak)
    );
}
