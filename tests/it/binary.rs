//! The real `scimgate` binary as a child process: `serve` with its stderr in a file (the
//! JSON log read back event by event), and the one-shot commands beside it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A `scimgate serve` process; killed (SIGKILL) when dropped.
pub struct Serve {
    pub child: Child,
    pub log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `scimgate` with the environment of the test run cleared of its settings.
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    for var in [
        "NO_COLOR",
        "RUST_LOG",
        "SCIMGATE_CONFIG",
        "SCIMGATE_DATA",
        "SCIMGATE_LISTEN",
        "SCIMGATE_POLICIES",
    ] {
        c.env_remove(var);
    }
    c.stdin(Stdio::null());
    c
}

/// Runs a one-shot command (`token create ...`, `audit verify`) on `data`.
pub fn run(data: &Path, args: &[&str]) -> Output {
    command()
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run scimgate")
}

/// `scimgate token create NAME --scope SCOPE` on `data`; the token it printed.
pub fn token(data: &Path, name: &str, scope: &str) -> String {
    let out = run(data, &["token", "create", name, "--scope", scope]);
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Creates a user through the SCIM API of the server at `base` (expects 201).
pub async fn create_user(base: &str, token: &str, user_name: &str) {
    let r = reqwest::Client::new()
        .post(format!("{base}/scim/v2/Users"))
        .bearer_auth(token)
        .header("content-type", crate::support::SCIM_JSON)
        .body(crate::support::user_body(user_name).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}

/// Starts `scimgate serve --config <dir>/<name>.yaml` with `config` as the file, its
/// stderr in `<dir>/<name>.log`.
pub fn spawn(dir: &Path, name: &str, config: &str) -> Serve {
    spawn_with_stdout(dir, name, config, Stdio::null())
}

/// As [`spawn`], with the process's stdout going to `stdout`.
pub fn spawn_with_stdout(dir: &Path, name: &str, config: &str, stdout: Stdio) -> Serve {
    let cfg = dir.join(format!("{name}.yaml"));
    std::fs::write(&cfg, config).expect("write config");
    let log = dir.join(format!("{name}.log"));
    let child = command()
        .arg("serve")
        .arg("--config")
        .arg(&cfg)
        .stdout(stdout)
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn scimgate serve");
    Serve { child, log }
}

/// A configuration with JSON logs on an ephemeral port, data and policies in `data`
/// (the policy directory is created), and `extra` appended.
pub fn config(data: &Path, extra: &str) -> String {
    let policies = data.join("policies");
    std::fs::create_dir_all(&policies).expect("policy dir");
    format!(
        "listen: 127.0.0.1:0\ndata_dir: {}\npolicies: {}\nlog:\n  format: json\n{extra}",
        data.display(),
        policies.display()
    )
}

impl Serve {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log's JSON events (lines that are not JSON are skipped).
    pub fn events(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Events at `level` (e.g. `WARN`) whose message is `message`.
    pub fn events_at(&self, level: &str, message: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["level"] == level && e["fields"]["message"] == message)
            .collect()
    }

    /// Waits (up to 30 s) for the first event whose message is `message`; its fields.
    pub async fn wait_for(&mut self, message: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(e) = self
                .events()
                .into_iter()
                .find(|e| e["fields"]["message"] == message)
            {
                return e["fields"].clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "scimgate exited ({status}) before {message:?}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {message:?} in:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the server listens; its base URL.
    pub async fn base(&mut self) -> String {
        format!("http://{}", self.addr().await)
    }

    /// Waits until the server listens; its address.
    pub async fn addr(&mut self) -> SocketAddr {
        let up = self.wait_for("scimgate listening").await;
        up["addr"]
            .as_str()
            .expect("addr")
            .parse()
            .expect("an address")
    }

    /// Waits until the operations listener listens; its address.
    pub async fn ops_addr(&mut self) -> SocketAddr {
        let up = self
            .wait_for("operations listener (metrics, health) listening")
            .await;
        up["addr"]
            .as_str()
            .expect("addr")
            .parse()
            .expect("an address")
    }

    /// Sends SIGHUP (reload the policies and the certificate).
    pub fn hangup(&self) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::HUP).expect("SIGHUP sent");
    }

    /// Sends SIGTERM (shut down gracefully).
    pub fn terminate(&self) {
        let pid = rustix::process::Pid::from_raw(self.pid() as i32).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM sent");
    }

    /// Waits (up to 30 s) for the process to end.
    pub async fn exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "scimgate still runs:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
