//! Replicas as separate `scimgate serve` processes (the real binary), each with its own
//! data directory, policy directory and JSON log, all on one PostgreSQL database. They
//! are spawned one right after the other and only then waited for, so that they start,
//! and migrate a fresh database, together.

use std::ops::Deref;

use super::env::Api;
use crate::binary::{self, Serve};

/// A replica process, spawned; not known to listen yet.
pub struct Spawned {
    pub serve: Serve,
    dir: tempfile::TempDir,
}

/// A replica process that listens; its [`Api`] through `Deref` (with no SCIM token
/// until one is given: the database may not have its schema before the replicas).
pub struct Proc {
    /// The process, killed when dropped.
    _serve: Serve,
    pub api: Api,
    _dir: tempfile::TempDir,
}

impl Deref for Proc {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Spawns `n` replicas, each with `yaml` added to its configuration and `policies` in
/// its policy directory, without waiting for any of them.
pub fn spawn_together(n: usize, yaml: &str, policies: &[(&str, &str)]) -> Vec<Spawned> {
    (0..n)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().join("data");
            let config = binary::config(&data, yaml);
            for (name, text) in policies {
                std::fs::write(data.join("policies").join(name), text).unwrap();
            }
            let serve = binary::spawn(dir.path(), "replica", &config);
            Spawned { serve, dir }
        })
        .collect()
}

impl Spawned {
    /// Panics with the log if the process has ended.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.serve.child.try_wait() {
            panic!(
                "replica pid {} exited ({status}):\n{}",
                self.serve.pid(),
                self.serve.log_text()
            );
        }
    }

    /// Waits until the process listens (panics with its log if it exits first).
    pub async fn listening(mut self) -> Proc {
        let base = self.serve.base().await;
        Proc {
            _serve: self.serve,
            api: Api::new(base, ""),
            _dir: self.dir,
        }
    }
}

/// [`spawn_together`], then waits until every one listens.
pub async fn start_together(n: usize, yaml: &str, policies: &[(&str, &str)]) -> Vec<Proc> {
    let mut out = Vec::new();
    for s in spawn_together(n, yaml, policies) {
        out.push(s.listening().await);
    }
    out
}

/// Gives every replica `token` for its SCIM API.
pub fn give_token(procs: &mut [Proc], token: &str) {
    for p in procs {
        p.api.token = token.to_owned();
    }
}
