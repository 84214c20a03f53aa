//! Readiness: named conditions that must all hold for `/readyz` to say "ready", and
//! advisory ones that are reported (`degraded: name: why`) without making it 503.
//!
//! A dependency outside this instance whose loss every replica shares (the identity
//! provider, for browser sign-in) is advisory: failing readiness for it would take every
//! replica out of the load balancer at once, and with them SCIM, existing sessions and
//! bearer tokens, which still work.
//!
//! The server adds its own at start (directory loaded, policies loaded, store
//! reachable); other parts add theirs with [`Readiness::add`] (a replica adds "cut off
//! from the database too long"). A check is a plain function returning why it does not
//! hold; checks may block briefly (the store is asked), so `/readyz` runs them off the
//! async workers.

use std::sync::Arc;

use parking_lot::RwLock;

/// One condition: `Ok(())` when it holds, else the reason.
pub type Check = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub name: &'static str,
    pub problem: Option<String>,
    /// Reported, but does not make the instance unready.
    pub advisory: bool,
}

/// The registry of readiness conditions (cheap to clone, shared).
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<RwLock<Vec<Entry>>>,
}

#[derive(Clone)]
struct Entry {
    name: &'static str,
    check: Check,
    advisory: bool,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.read().iter().map(|e| e.name).collect();
        f.debug_struct("Readiness").field("checks", &names).finish()
    }
}

impl Readiness {
    /// Adds a condition (a later one with the same name replaces it).
    pub fn add(
        &self,
        name: &'static str,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.insert(name, Arc::new(check), false);
    }

    /// Adds an advisory condition: shown in `/readyz` when it fails, never a 503.
    pub fn add_advisory(
        &self,
        name: &'static str,
        check: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.insert(name, Arc::new(check), true);
    }

    fn insert(&self, name: &'static str, check: Check, advisory: bool) {
        let mut checks = self.checks.write();
        checks.retain(|e| e.name != name);
        checks.push(Entry {
            name,
            check,
            advisory,
        });
    }

    /// Runs every check (blocking; see [`Readiness::evaluate`] for async callers).
    pub fn evaluate_blocking(&self) -> Vec<CheckResult> {
        let checks: Vec<Entry> = self.checks.read().clone();
        checks
            .into_iter()
            .map(|e| CheckResult {
                name: e.name,
                problem: (e.check)().err(),
                advisory: e.advisory,
            })
            .collect()
    }

    /// Runs every check on the blocking pool.
    pub async fn evaluate(&self) -> Vec<CheckResult> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.evaluate_blocking())
            .await
            .unwrap_or_else(|e| {
                vec![CheckResult {
                    name: "readiness",
                    problem: Some(format!("a check panicked: {e}")),
                    advisory: false,
                }]
            })
    }
}

/// The `/readyz` answer: 200 and `ready` when every required check holds, else 503,
/// `not ready` and one line per failing check; a failing advisory check adds a
/// `degraded: name: why` line either way.
pub async fn readyz(readiness: &Readiness) -> (http::StatusCode, String) {
    let results = readiness.evaluate().await;
    let mut ready = true;
    let mut lines = String::new();
    for r in &results {
        let Some(p) = &r.problem else { continue };
        if r.advisory {
            lines.push_str(&format!("degraded: {}: {p}\n", r.name));
        } else {
            ready = false;
            lines.push_str(&format!("{}: {p}\n", r.name));
        }
    }
    if ready {
        (http::StatusCode::OK, format!("ready\n{lines}"))
    } else {
        (
            http::StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{lines}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn ready_only_when_every_check_holds() {
        let r = Readiness::default();
        assert_eq!(readyz(&r).await.0, http::StatusCode::OK);
        let db_ok = Arc::new(AtomicBool::new(true));
        let flag = db_ok.clone();
        r.add("database", move || {
            if flag.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err("cut off for 31s".into())
            }
        });
        r.add("directory", || Ok(()));
        assert_eq!(readyz(&r).await, (http::StatusCode::OK, "ready\n".into()));
        db_ok.store(false, Ordering::Relaxed);
        let (status, body) = readyz(&r).await;
        assert_eq!(status, http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "not ready\ndatabase: cut off for 31s\n");
    }

    #[tokio::test]
    async fn an_advisory_check_is_reported_but_keeps_ready() {
        let r = Readiness::default();
        r.add("store", || Ok(()));
        r.add_advisory("oidc", || Err("cannot reach the IdP".into()));
        assert_eq!(
            readyz(&r).await,
            (
                http::StatusCode::OK,
                "ready\ndegraded: oidc: cannot reach the IdP\n".into()
            )
        );
    }
}
