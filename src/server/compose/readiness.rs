//! The readiness conditions (`/readyz`) the composition root registers.

use std::sync::Arc;

use crate::directory::Directory;
use crate::ops::Readiness;
use crate::policy::reload::PolicyHandle;
use crate::store::Store;

/// The readiness conditions: the policies route something, the store answers, and the
/// directory is within its freshness bound (replicas cut off from the shared store).
/// (The directory and the policies are loaded before any listener opens.)
pub(super) fn checks(
    policy: &Arc<PolicyHandle>,
    store: &Arc<dyn Store>,
    dir: &Arc<Directory>,
) -> Readiness {
    let readiness = Readiness::default();
    let policy = policy.clone();
    readiness.add("policies", move || {
        if policy.current().routes().is_empty() {
            Err("no routes are configured: every request would be denied".into())
        } else {
            Ok(())
        }
    });
    let store = store.clone();
    readiness.add("store", move || {
        // Any query will do; an unknown token id is the cheapest the trait offers.
        store
            .token_by_id("-")
            .map(|_| ())
            .map_err(|e| format!("the store does not answer: {e}"))
    });
    let dir = dir.clone();
    readiness.add("directory", move || {
        let s = dir.freshness().status();
        if s.fresh {
            return Ok(());
        }
        let since = s
            .since_catch_up
            .map(|d| d.as_secs_f64())
            .unwrap_or(f64::INFINITY);
        let bound = s.bound.map(|d| d.as_secs_f64()).unwrap_or(0.0);
        Err(format!(
            "the directory has not caught up with the shared store for {since:.1}s (bound {bound:.1}s)"
        ))
    });
    readiness
}
