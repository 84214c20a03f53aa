//! The window of anonymous refusals: what keeps a flood of requests with no
//! authenticated caller from costing unbounded space in the chain.
//!
//! Per window and (route, reason), the first `individual_per_key` refusals are
//! admitted to be recorded one by one; the rest are only counted, with the first
//! `samples_per_key` kept as clipped examples. When the worker closes the window it
//! writes one `access.deny_aggregate` record per key that counted any. At most
//! `max_keys` keys per window; refusals past that share the key `route:*` of their
//! reason. Memory is bounded by `max_keys × samples_per_key` clipped samples.
//!
//! Refusals of a browser's automatic icon request ([`DenyReason::Icon`]) are never
//! recorded one by one: they are only counted (and sampled), so the aggregate says how
//! many there were without one record per page view.

use std::collections::HashMap;

use parking_lot::Mutex;

use super::records::{self, DenyReason, RefusalAggregate, RefusalSample};
use crate::config::audit::AnonymousConfig;
use crate::record::AuditEntry;

/// The shared key of refusals past `max_keys`.
const OVERFLOW_ROUTE: &str = "*";
/// The key of refusals that matched no route.
const NO_ROUTE: &str = "-";

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Record it on its own.
    Individually,
    /// It was counted into its key's aggregate.
    Counted,
}

#[derive(Debug, Default)]
struct Bucket {
    individual: u64,
    counted: u64,
    samples: Vec<RefusalSample>,
}

#[derive(Debug, Default)]
struct Window {
    start: i64,
    keys: usize,
    routes: HashMap<String, [Option<Bucket>; DenyReason::ALL.len()]>,
}

/// The current window of anonymous refusals.
#[derive(Debug)]
pub struct RefusalWindow {
    config: AnonymousConfig,
    window: Mutex<Window>,
}

impl RefusalWindow {
    pub fn new(config: AnonymousConfig, now_ms: i64) -> Self {
        RefusalWindow {
            config,
            window: Mutex::new(Window {
                start: now_ms,
                ..Window::default()
            }),
        }
    }

    /// Admits one refusal: record it on its own, or count it (then `sample` may be
    /// kept as an example).
    pub fn admit(
        &self,
        reason: DenyReason,
        route: Option<&str>,
        sample: impl FnOnce() -> RefusalSample,
    ) -> Admit {
        let route = route.unwrap_or(NO_ROUTE);
        let mut w = self.window.lock();
        let w = &mut *w;
        let full = w.keys >= self.config.max_keys;
        let route = match w.routes.get(route) {
            Some(b) if b[reason.index()].is_some() || !full => route,
            None if !full => route,
            _ => OVERFLOW_ROUTE,
        };
        if !w.routes.contains_key(route) {
            w.routes.insert(route.to_owned(), Default::default());
        }
        let Some(buckets) = w.routes.get_mut(route) else {
            return Admit::Counted;
        };
        let bucket = buckets[reason.index()].get_or_insert_with(|| {
            w.keys += 1;
            Bucket::default()
        });
        let individual_cap = match reason {
            DenyReason::Icon => 0,
            _ => self.config.individual_per_key,
        };
        if bucket.individual < individual_cap {
            bucket.individual += 1;
            return Admit::Individually;
        }
        bucket.counted += 1;
        if bucket.samples.len() < self.config.samples_per_key {
            bucket.samples.push(sample());
        }
        Admit::Counted
    }

    /// Closes the window at `now_ms`: the aggregate records of the keys that counted
    /// refusals, and the number of refusals they count.
    pub fn close(&self, now_ms: i64) -> (Vec<AuditEntry>, u64) {
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
        for (route, buckets) in routes {
            for (reason, bucket) in DenyReason::ALL.iter().zip(buckets) {
                let Some(b) = bucket.filter(|b| b.counted > 0) else {
                    continue;
                };
                total += b.counted;
                out.push(records::refusal_aggregate(&RefusalAggregate {
                    at: now_ms,
                    reason: *reason,
                    route: (route != NO_ROUTE).then_some(route.as_str()),
                    count: b.counted,
                    recorded_individually: b.individual,
                    window_start: old.start,
                    window_end: now_ms,
                    samples: &b.samples,
                }));
            }
        }
        (out, total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::records::RequestOrigin;

    fn config(max_keys: usize) -> AnonymousConfig {
        AnonymousConfig {
            individual_per_key: 2,
            samples_per_key: 1,
            max_keys,
            ..AnonymousConfig::default()
        }
    }

    fn sample() -> RefusalSample {
        RefusalSample::new("GET", "/x", &RequestOrigin::default(), 64)
    }

    #[test]
    fn a_key_is_recorded_individually_then_counted() {
        let w = RefusalWindow::new(config(10), 0);
        let admitted: Vec<Admit> = (0..5)
            .map(|_| w.admit(DenyReason::NoRoute, None, sample))
            .collect();
        assert_eq!(
            admitted
                .iter()
                .filter(|a| **a == Admit::Individually)
                .count(),
            2
        );
        let (records, total) = w.close(7);
        assert_eq!((records.len(), total), (1, 3));
        let d: serde_json::Value =
            serde_json::from_str(records[0].detail.as_deref().unwrap()).unwrap();
        assert_eq!(
            (d["count"].as_u64(), d["recorded_individually"].as_u64()),
            (Some(3), Some(2))
        );
        assert_eq!(d["samples"].as_array().unwrap().len(), 1);
        assert_eq!(records[0].target, "route:-");
        assert_eq!(w.close(8).1, 0, "a new window starts empty");
    }

    #[test]
    fn icon_refusals_are_only_counted() {
        let w = RefusalWindow::new(config(10), 0);
        for _ in 0..3 {
            assert_eq!(
                w.admit(DenyReason::Icon, Some("docs"), sample),
                Admit::Counted
            );
        }
        let (records, total) = w.close(5);
        assert_eq!((records.len(), total), (1, 3));
        let d: serde_json::Value =
            serde_json::from_str(records[0].detail.as_deref().unwrap()).unwrap();
        assert_eq!(d["reason"], "icon");
        assert_eq!(d["recorded_individually"].as_u64(), Some(0));
    }

    #[test]
    fn keys_past_the_cap_share_one() {
        let w = RefusalWindow::new(config(2), 0);
        for r in ["a", "b", "c", "d"] {
            for _ in 0..3 {
                w.admit(DenyReason::Unauthenticated, Some(r), sample);
            }
        }
        let (records, total) = w.close(1);
        let targets: Vec<&str> = records.iter().map(|r| r.target.as_str()).collect();
        assert_eq!(targets, ["route:*", "route:a", "route:b"]);
        assert_eq!(total, 1 + 1 + 4);
    }
}
