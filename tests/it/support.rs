//! Starting an in-process server on a temporary data directory, and a SCIM client.

#![allow(dead_code)]

use std::path::Path;

use scimgate::config::{Config, Overrides};
use scimgate::server::{self, Running};
use scimgate::store::{SqliteStore, Store};
use scimgate::tokens::{self, TokenScope};

/// A server under test with its data directory and a SCIM token.
pub struct Gate {
    pub running: Running,
    pub dir: tempfile::TempDir,
    pub token: String,
    pub base: String,
    pub http: reqwest::Client,
}

/// Writes a token straight into the store (as `scimgate token create` does).
pub fn create_token(data: &Path, name: &str, scope: TokenScope) -> String {
    let store = SqliteStore::open(&data.join("scimgate.db")).expect("open store");
    let (token, row) = tokens::issue(name, scope, 0);
    store.token_insert(&row).expect("insert token");
    token
}

/// Starts a server; `yaml` is extra configuration (may be empty).
pub async fn start(yaml: &str) -> Gate {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = create_token(dir.path(), "test-idp", TokenScope::Scim);
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.path().to_path_buf()),
    };
    let config = Config::from_yaml("test.yaml", yaml, &overrides).expect("config");
    let running = server::spawn(config).await.expect("server starts");
    let base = format!("http://{}/scim/v2", running.addr);
    Gate {
        running,
        dir,
        token,
        base,
        http: reqwest::Client::new(),
    }
}
