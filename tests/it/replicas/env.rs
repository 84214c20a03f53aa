//! Replicas under test: a private database on the shared PostgreSQL (or on a private
//! cluster that a test may stop and start), in-process replicas on it (for process
//! replicas see [`super::procs`]), SCIM tokens in it, and a proxy policy in front of
//! the fake upstream.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::issuer::Issuer;
use crate::proxy_env::standard_policy;
pub use crate::support::eventually;
use crate::support::{send, with_json, Resp, PATCH_SCHEMA, USER_SCHEMA};
use crate::upstream::{self, Upstream};
use scimgate::config::{Config, Overrides};
use scimgate::server::{self, Running};
use scimgate::store::{PgStore, Store};
use scimgate::tokens::{self, TokenScope};

/// The machine's shared PostgreSQL.
pub const SHARED_PG: &str = "postgres://postgres@127.0.0.1:5432";

/// A database of its own for one test; dropped at the end.
pub struct TestDb {
    pub server: String,
    pub name: String,
}

impl TestDb {
    /// Creates `scimgate_t_<random>` on `server` (`postgres://user@host:port`).
    pub async fn create_on(server: &str) -> TestDb {
        let name = format!("scimgate_t_{}", uuid::Uuid::new_v4().simple());
        let (client, conn) =
            tokio_postgres::connect(&format!("{server}/postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect to PostgreSQL");
        let driver = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        drop(client);
        let _ = driver.await;
        TestDb {
            server: server.to_owned(),
            name,
        }
    }

    pub async fn create() -> TestDb {
        Self::create_on(SHARED_PG).await
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// A store handle on this database (blocking calls: use from blocking threads).
    pub async fn store(&self) -> PgStore {
        let url = self.url();
        tokio::task::spawn_blocking(move || PgStore::open_url(&url, Duration::from_secs(5)))
            .await
            .unwrap()
            .expect("open the PostgreSQL store")
    }

    /// Writes a token into the database (as `scimgate token create` does).
    pub async fn token(&self, name: &str) -> String {
        let store = self.store().await;
        let (token, row) = tokens::issue(name, TokenScope::Scim, 0);
        tokio::task::spawn_blocking(move || store.token_insert(&row))
            .await
            .unwrap()
            .expect("insert token");
        token
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = format!("{}/postgres", self.server);
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // The sync client runs its own runtime: give it a thread of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&sql);
            }
        })
        .join();
    }
}

/// The `store:` section for `url` with a staleness bound.
pub fn store_yaml(url: &str, max_stale_seconds: f64) -> String {
    format!(
        "store:\n  postgres:\n    url: \"{url}\"\n    max_stale_seconds: {max_stale_seconds}\n    timeout_seconds: 2\n"
    )
}

/// What a test calls on a replica, in process or not: its SCIM API with a token, and
/// its proxy.
pub struct Api {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: String, token: &str) -> Api {
        Api {
            base,
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub fn root(&self) -> String {
        self.base.clone()
    }

    pub async fn scim(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let r = self
            .http
            .request(method, format!("{}/scim/v2{path}", self.base))
            .bearer_auth(&self.token);
        send(match body {
            Some(b) => with_json(r, b),
            None => r,
        })
        .await
    }

    /// POST /Users; the whole response.
    pub async fn create_user(&self, name: &str) -> Resp {
        let body = json!({"schemas": [USER_SCHEMA], "userName": name, "active": true});
        self.scim(Method::POST, "/Users", Some(&body)).await
    }

    pub async fn deactivate(&self, id: &str) -> Resp {
        let body = json!({"schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "replace", "value": {"active": false}}]});
        self.scim(Method::PATCH, &format!("/Users/{id}"), Some(&body))
            .await
    }

    /// A proxied GET on `host` with a bearer token from `iss` for `user`.
    pub async fn proxied(&self, iss: &Issuer, host: &str, path: &str, user: &str) -> u16 {
        self.http
            .get(format!("{}{path}", self.base))
            .header("host", host)
            .bearer_auth(iss.token(user))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

/// One in-process replica (the server's `spawn` on the test's runtime); its [`Api`]
/// through `Deref`.
pub struct Replica {
    pub running: Running,
    /// Kept so the data directory lives as long as the replica.
    pub _data: tempfile::TempDir,
    pub api: Api,
}

impl std::ops::Deref for Replica {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Replica {
    /// Starts a replica with `yaml` (no policies), or the start's error, all of its
    /// chain.
    pub async fn try_start(yaml: &str, token: &str) -> Result<Replica, String> {
        let data = tempfile::tempdir().unwrap();
        let pdir = data.path().join("policies");
        std::fs::create_dir_all(&pdir).unwrap();
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data.path().to_path_buf()),
            policies_dir: Some(pdir),
        };
        let config = Config::from_yaml("replica.yaml", yaml, &overrides)
            .map_err(|e| format!("{:#}", anyhow::Error::from(e)))?;
        let running = server::spawn(config).await.map_err(|e| format!("{e:#}"))?;
        Ok(Replica::new(running, data, token))
    }

    /// Starts a replica with `yaml` and these policy files.
    pub async fn start(yaml: &str, token: &str, policies: &[(&str, &str)]) -> Replica {
        let data = tempfile::tempdir().unwrap();
        let pdir = data.path().join("policies");
        std::fs::create_dir_all(&pdir).unwrap();
        for (name, text) in policies {
            std::fs::write(pdir.join(name), text).unwrap();
        }
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".into()),
            data_dir: Some(data.path().to_path_buf()),
            policies_dir: Some(pdir),
        };
        let config = Config::from_yaml("replica.yaml", yaml, &overrides).expect("config");
        let running = server::spawn(config).await.expect("replica starts");
        Replica::new(running, data, token)
    }

    fn new(running: Running, data: tempfile::TempDir, token: &str) -> Replica {
        let api = Api::new(format!("http://{}", running.addr), token);
        Replica {
            running,
            _data: data,
            api,
        }
    }
}

/// Three pieces every proxy test needs: an upstream, an issuer, and the standard
/// policy for them.
pub struct Proxying {
    pub up: Upstream,
    pub iss: Issuer,
    pub policy: String,
}

impl Proxying {
    pub async fn start() -> Proxying {
        let up = upstream::start().await;
        let iss = Issuer::start().await;
        let policy = standard_policy(&up.url());
        Proxying { up, iss, policy }
    }
}

/// A private PostgreSQL cluster (initdb + pg_ctl) on a free port, trust auth, that a
/// test may stop and start without disturbing the machine's shared server.
pub struct Cluster {
    pub dir: PathBuf,
    pub port: u16,
    _tmp: tempfile::TempDir,
}

fn pg_bin(name: &str) -> PathBuf {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    versions
        .last()
        .expect("a PostgreSQL version")
        .join("bin")
        .join(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL server command, as `postgres` when this process is root
/// (initdb refuses root).
fn pg_command(args: &[&str]) -> std::process::Output {
    let out = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(args)
            .output()
    } else {
        Command::new(args[0]).args(&args[1..]).output()
    };
    out.expect("run a PostgreSQL command")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Creates and starts a cluster.
    pub fn start() -> Cluster {
        Self::start_configured(|_| {})
    }

    /// Creates a cluster, lets `configure` write into its data directory (settings
    /// appended to `postgresql.conf`, a `pg_hba.conf`, certificate files), hands the
    /// files to the server's user, and starts it.
    pub fn start_configured(configure: impl FnOnce(&Path)) -> Cluster {
        let tmp = tempfile::Builder::new()
            .prefix("scimgate-pg-")
            .tempdir_in("/tmp")
            .unwrap();
        let dir = tmp.path().join("data");
        if is_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres", &tmp.path().display().to_string()])
                .status();
        }
        let initdb = pg_bin("initdb");
        let out = pg_command(&[
            initdb.to_str().unwrap(),
            "-D",
            dir.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        configure(&dir);
        if is_root() {
            let _ = Command::new("chown")
                .args(["-R", "postgres", &dir.display().to_string()])
                .status();
        }
        let cluster = Cluster {
            dir,
            port: free_port(),
            _tmp: tmp,
        };
        cluster.up();
        cluster
    }

    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub fn up(&self) {
        let pg_ctl = pg_bin("pg_ctl");
        let opts = format!(
            "-p {} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        let log = self.dir.with_file_name("log");
        let out = pg_command(&[
            pg_ctl.to_str().unwrap(),
            "-D",
            self.dir.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
            "-o",
            &opts,
            "-w",
            "start",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server (fast: open connections are cut).
    pub fn down(&self) {
        let pg_ctl = pg_bin("pg_ctl");
        let out = pg_command(&[
            pg_ctl.to_str().unwrap(),
            "-D",
            self.dir.to_str().unwrap(),
            "-m",
            "fast",
            "-w",
            "stop",
        ]);
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let pg_ctl = pg_bin("pg_ctl");
        let _ = pg_command(&[
            pg_ctl.to_str().unwrap(),
            "-D",
            self.dir.to_str().unwrap(),
            "-m",
            "immediate",
            "stop",
        ]);
    }
}
