//! Pending browser logins: what `start` must remember for `finish`, in memory.
//!
//! Keyed by a random 256-bit flow id (sent to the browser in a short-lived cookie), each
//! entry lives at most [`FLOW_TTL`] and is taken out on first use, whatever the outcome,
//! so a flow cannot be replayed. At most [`FLOW_CAP`] are kept; past that the oldest is
//! dropped, so a flood of `/login` hits costs bounded memory.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use parking_lot::Mutex;

use super::AuthnError;

/// How long a login may take, from `/login` to `/callback`.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// Most logins pending at once.
pub const FLOW_CAP: usize = 10_000;

/// What `finish` needs from `start`.
pub(crate) struct PendingFlow {
    /// The `state` sent to the IdP.
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub return_to: String,
    /// Unix milliseconds.
    pub created_ms: i64,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, PendingFlow>,
    /// Flow ids in creation order (ids already taken are skipped lazily).
    order: VecDeque<String>,
}

pub(crate) struct Flows {
    inner: Mutex<Inner>,
    ttl_ms: i64,
    cap: usize,
}

impl Flows {
    pub(crate) fn new(ttl: Duration, cap: usize) -> Self {
        Self {
            inner: Mutex::default(),
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            cap,
        }
    }

    pub(crate) fn insert(&self, id: String, flow: PendingFlow) {
        let now = flow.created_ms;
        let mut inner = self.inner.lock();
        let Inner { by_id, order } = &mut *inner;
        // Drop expired and already-taken ids from the front, then the oldest live ones
        // while over the cap.
        while let Some(front) = order.front() {
            let drop = match by_id.get(front) {
                None => true,
                Some(f) => now - f.created_ms >= self.ttl_ms || by_id.len() >= self.cap,
            };
            if !drop {
                break;
            }
            if let Some(id) = order.pop_front() {
                by_id.remove(&id);
            }
        }
        if order.len() > 2 * self.cap {
            order.retain(|id| by_id.contains_key(id));
        }
        order.push_back(id.clone());
        by_id.insert(id, flow);
    }

    /// Takes the flow out (it is single-use); refused when unknown or expired at `now`.
    pub(crate) fn take(&self, id: &str, now: i64) -> Result<PendingFlow, AuthnError> {
        let flow = self
            .inner
            .lock()
            .by_id
            .remove(id)
            .ok_or(AuthnError::LoginFailed(
                "this sign-in attempt is unknown or was already used; start again",
            ))?;
        if now - flow.created_ms >= self.ttl_ms {
            return Err(AuthnError::LoginFailed(
                "this sign-in attempt took too long; start again",
            ));
        }
        Ok(flow)
    }

    pub(crate) fn len(&self) -> usize {
        self.inner.lock().by_id.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(created_ms: i64) -> PendingFlow {
        PendingFlow {
            state: "s".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            redirect_uri: "r".into(),
            return_to: "/".into(),
            created_ms,
        }
    }

    #[test]
    fn flows_are_single_use_and_expire() {
        let flows = Flows::new(Duration::from_secs(600), 10);
        flows.insert("a".into(), flow(0));
        assert!(flows.take("a", 1_000).is_ok());
        assert!(matches!(
            flows.take("a", 1_000),
            Err(AuthnError::LoginFailed(_))
        ));
        flows.insert("b".into(), flow(0));
        assert!(matches!(
            flows.take("b", 600_000),
            Err(AuthnError::LoginFailed(_))
        ));
        // Expired flows are swept when new ones arrive.
        flows.insert("c".into(), flow(0));
        flows.insert("d".into(), flow(600_000));
        assert_eq!(flows.len(), 1);
    }

    #[test]
    fn the_oldest_flow_goes_past_the_cap() {
        let flows = Flows::new(Duration::from_secs(600), 3);
        for (i, id) in ["a", "b", "c", "d"].into_iter().enumerate() {
            flows.insert(id.into(), flow(i as i64));
        }
        assert_eq!(flows.len(), 3);
        assert!(flows.take("a", 10).is_err());
        assert!(flows.take("d", 10).is_ok());
    }
}
