//! Readiness: named conditions that must all hold for `/readyz` to say "ready".
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
}

/// The registry of readiness conditions (cheap to clone, shared).
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<RwLock<Vec<(&'static str, Check)>>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.read().iter().map(|(n, _)| *n).collect();
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
        let mut checks = self.checks.write();
        checks.retain(|(n, _)| *n != name);
        checks.push((name, Arc::new(check)));
    }

    /// Runs every check (blocking; see [`Readiness::evaluate`] for async callers).
    pub fn evaluate_blocking(&self) -> Vec<CheckResult> {
        let checks: Vec<(&'static str, Check)> = self.checks.read().clone();
        checks
            .into_iter()
            .map(|(name, check)| CheckResult {
                name,
                problem: check().err(),
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
                }]
            })
    }
}

/// The `/readyz` answer: 200 and `ready` when every check holds, else 503 and one line
/// per failing check.
pub async fn readyz(readiness: &Readiness) -> (http::StatusCode, String) {
    let results = readiness.evaluate().await;
    let failing: Vec<String> = results
        .iter()
        .filter_map(|r| r.problem.as_ref().map(|p| format!("{}: {p}", r.name)))
        .collect();
    if failing.is_empty() {
        (http::StatusCode::OK, "ready\n".to_owned())
    } else {
        let mut body = String::from("not ready\n");
        for line in failing {
            body.push_str(&line);
            body.push('\n');
        }
        (http::StatusCode::SERVICE_UNAVAILABLE, body)
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
}
