//! The window of allowed requests, with `audit.decisions: sampled` or `deny`: allows
//! are counted per (route, user) instead of each being a record of its own.
//!
//! When the worker closes the window it writes one `access.allow_aggregate` record per
//! key that counted any: the user, the route, how many allows, the first and last
//! instant, how many of them were also recorded on their own. With `sampled`, the
//! first allow of each key in a window and every `sample_every`th after it are also
//! recorded one by one (`access.allow`), so each user's first access to each route in
//! each window is on record in full. At most `max_keys` keys per window; allows past
//! that share the key `user:*` of their route. Memory is bounded by `max_keys` small
//! buckets. Denials never come here: they are always recorded one by one.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::records::{self, AllowAggregate};
use crate::config::audit::{AllowsConfig, DecisionsMode};
use crate::record::AuditEntry;

/// The shared key of allows past `max_keys`.
const OVERFLOW_USER: &str = "*";

/// What to do with one allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowAdmit {
    /// Record it on its own (it is counted too, unless the mode is `all`).
    Record,
    /// It was counted into its key's aggregate only.
    Counted,
}

#[derive(Debug)]
struct Bucket {
    user_name: Box<str>,
    count: u64,
    individually: u64,
    first_at: i64,
    last_at: i64,
}

#[derive(Debug, Default)]
struct Window {
    start: i64,
    keys: usize,
    /// By route, then by user id.
    routes: HashMap<Box<str>, HashMap<Box<str>, Bucket>>,
}

/// The current window of allows.
#[derive(Debug)]
pub struct AllowWindow {
    config: AllowsConfig,
    window: Mutex<Window>,
}

impl AllowWindow {
    pub fn new(config: AllowsConfig, now_ms: i64) -> Self {
        AllowWindow {
            config,
            window: Mutex::new(Window {
                start: now_ms,
                ..Window::default()
            }),
        }
    }

    /// Whether allows are counted here at all (not with `all`).
    pub fn counts(&self) -> bool {
        self.config.mode != DecisionsMode::All
    }

    /// Admits one allow of `user_id` on `route` at `at`.
    pub fn admit(&self, route: &str, user_id: &str, user_name: &str, at: i64) -> AllowAdmit {
        if !self.counts() {
            return AllowAdmit::Record;
        }
        let mut w = self.window.lock();
        let w = &mut *w;
        let full = w.keys >= self.config.max_keys;
        if !w.routes.contains_key(route) {
            w.routes.insert(route.into(), HashMap::new());
        }
        let Some(users) = w.routes.get_mut(route) else {
            return AllowAdmit::Counted;
        };
        let (key, name) = if users.contains_key(user_id) || !full {
            (user_id, user_name)
        } else {
            (OVERFLOW_USER, OVERFLOW_USER)
        };
        let bucket = match users.get_mut(key) {
            Some(b) => b,
            None => {
                w.keys += 1;
                users.entry(key.into()).or_insert(Bucket {
                    user_name: name.into(),
                    count: 0,
                    individually: 0,
                    first_at: at,
                    last_at: at,
                })
            }
        };
        let sampled = self.config.mode == DecisionsMode::Sampled
            && key != OVERFLOW_USER
            && bucket.count % self.config.sample_every == 0;
        bucket.count += 1;
        bucket.last_at = at;
        if sampled {
            bucket.individually += 1;
            AllowAdmit::Record
        } else {
            AllowAdmit::Counted
        }
    }

    /// Closes the window at `now_ms`: the aggregate records, and the number of allows
    /// they count.
    pub fn close(&self, now_ms: i64) -> (Vec<AuditEntry>, u64) {
        if !self.counts() {
            return (Vec::new(), 0);
        }
        let old = std::mem::replace(
            &mut *self.window.lock(),
            Window {
                start: now_ms,
                ..Window::default()
            },
        );
        let mut out = Vec::new();
        let mut total = 0;
        let mut routes: Vec<_> = old.routes.into_iter().collect();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        for (route, users) in routes {
            let mut users: Vec<_> = users.into_iter().collect();
            users.sort_by(|a, b| a.0.cmp(&b.0));
            for (user_id, b) in users {
                total += b.count;
                let overflow = &*user_id == OVERFLOW_USER;
                out.push(records::allow_aggregate(&AllowAggregate {
                    at: now_ms,
                    route: &route,
                    user_name: &b.user_name,
                    user_id: (!overflow).then_some(&*user_id),
                    count: b.count,
                    recorded_individually: b.individually,
                    first_at: b.first_at,
                    last_at: b.last_at,
                    window_start: old.start,
                    window_end: now_ms,
                }));
            }
        }
        (out, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(mode: DecisionsMode, max_keys: usize, sample_every: u64) -> AllowWindow {
        AllowWindow::new(
            AllowsConfig {
                mode,
                max_keys,
                sample_every,
                ..AllowsConfig::default()
            },
            0,
        )
    }

    fn detail(e: &AuditEntry) -> serde_json::Value {
        serde_json::from_str(e.detail.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn all_records_every_allow_and_counts_none() {
        let w = window(DecisionsMode::All, 10, 1);
        assert_eq!(w.admit("docs", "u1", "ann", 5), AllowAdmit::Record);
        assert_eq!(w.close(9), (Vec::new(), 0));
    }

    #[test]
    fn deny_counts_per_user_and_route() {
        let w = window(DecisionsMode::Deny, 10, 1);
        for at in 1..=3 {
            assert_eq!(w.admit("docs", "u1", "ann", at), AllowAdmit::Counted);
        }
        assert_eq!(w.admit("api", "u1", "ann", 4), AllowAdmit::Counted);
        let (records, total) = w.close(10);
        assert_eq!(total, 4);
        let targets: Vec<&str> = records.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["route:api", "route:docs"]);
        let d = detail(&records[1]);
        assert_eq!(records[1].actor, "user:ann");
        assert_eq!(records[1].action, "access.allow_aggregate");
        assert_eq!(
            (&d["count"], &d["first_at"], &d["last_at"], &d["user_id"]),
            (&3.into(), &1.into(), &3.into(), &"u1".into())
        );
        assert_eq!(d["recorded_individually"], 0);
        assert_eq!(
            (&d["window_start"], &d["window_end"]),
            (&0.into(), &10.into())
        );
        assert_eq!(w.close(11).1, 0, "a new window starts empty");
    }

    #[test]
    fn sampled_records_the_first_and_every_nth() {
        let w = window(DecisionsMode::Sampled, 10, 3);
        let admitted: Vec<AllowAdmit> = (0..7).map(|i| w.admit("docs", "u1", "ann", i)).collect();
        let recorded: Vec<usize> = admitted
            .iter()
            .enumerate()
            .filter(|(_, a)| **a == AllowAdmit::Record)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(recorded, [0, 3, 6]);
        let (records, total) = w.close(8);
        assert_eq!(total, 7);
        assert_eq!(detail(&records[0])["recorded_individually"], 3);
    }

    #[test]
    fn keys_past_the_cap_share_one_per_route() {
        let w = window(DecisionsMode::Sampled, 2, 1);
        for user in ["a", "b", "c", "d"] {
            w.admit("docs", user, user, 1);
        }
        // The overflow key is never sampled: who it was is not known to the record.
        assert_eq!(w.admit("docs", "e", "e", 2), AllowAdmit::Counted);
        let (records, total) = w.close(3);
        let actors: Vec<&str> = records.iter().map(|r| r.actor.as_str()).collect();
        assert_eq!(actors, ["user:*", "user:a", "user:b"]);
        assert_eq!(total, 5);
        assert_eq!(detail(&records[0])["count"], 3);
        assert!(detail(&records[0]).get("user_id").is_none());
    }
}
