//! Counted events of signed-in callers: what keeps requests refused by a rate limit,
//! and decisions where the shadow policies differ, from costing one record each.
//!
//! Per window (the same window as [`super::refusals`]), events are counted by key
//! (action, actor, target and a few fixed fields); when the worker closes the window it
//! writes one record per key with its `count` and the window's bounds, so a caller
//! refused ten thousand times in a window is one record. At most `max_keys` keys per
//! window; events past that are counted under one key per action with actor `*`.

use std::collections::HashMap;

use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::record::AuditEntry;

/// What an event is counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TallyKey {
    /// The record's action (`access.rate_limited`, `policy.shadow_difference`).
    pub action: &'static str,
    /// The record's actor (`user:<name>`).
    pub actor: String,
    /// The record's target (`route:<name>`).
    pub target: String,
    /// Fields of the record's detail that make the key (besides the count).
    pub fields: Vec<(&'static str, String)>,
}

#[derive(Debug, Default)]
struct Window {
    start: i64,
    counts: HashMap<TallyKey, u64>,
}

/// The current window of counted events.
#[derive(Debug)]
pub struct Tally {
    max_keys: usize,
    window: Mutex<Window>,
}

impl Tally {
    pub fn new(max_keys: usize, now_ms: i64) -> Self {
        Tally {
            max_keys: max_keys.max(1),
            window: Mutex::new(Window {
                start: now_ms,
                ..Window::default()
            }),
        }
    }

    /// Counts one event under `key` (or the action's overflow key when the window is
    /// full).
    pub fn count(&self, key: TallyKey) {
        let mut w = self.window.lock();
        if let Some(n) = w.counts.get_mut(&key) {
            *n += 1;
            return;
        }
        let key = if w.counts.len() >= self.max_keys {
            TallyKey {
                action: key.action,
                actor: "*".into(),
                target: "*".into(),
                fields: Vec::new(),
            }
        } else {
            key
        };
        *w.counts.entry(key).or_insert(0) += 1;
    }

    /// Closes the window at `now_ms`: one record per key, in a stable order.
    pub fn close(&self, now_ms: i64) -> Vec<AuditEntry> {
        let old = std::mem::replace(
            &mut *self.window.lock(),
            Window {
                start: now_ms,
                ..Window::default()
            },
        );
        let mut counts: Vec<(TallyKey, u64)> = old.counts.into_iter().collect();
        counts.sort_by(|a, b| {
            (a.0.action, &a.0.target, &a.0.actor, &a.0.fields).cmp(&(
                b.0.action,
                &b.0.target,
                &b.0.actor,
                &b.0.fields,
            ))
        });
        counts
            .into_iter()
            .map(|(key, count)| {
                let mut detail = Map::new();
                for (name, value) in key.fields {
                    detail.insert(name.to_owned(), Value::String(value));
                }
                detail.insert("count".into(), count.into());
                detail.insert("window_start".into(), old.start.into());
                detail.insert("window_end".into(), now_ms.into());
                AuditEntry {
                    at: now_ms,
                    actor: key.actor,
                    action: key.action.to_owned(),
                    target: key.target,
                    before: None,
                    after: None,
                    detail: Some(Value::Object(detail).to_string()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> TallyKey {
        TallyKey {
            action: "access.rate_limited",
            actor: format!("user:{user}"),
            target: "route:api".into(),
            fields: vec![("scope", "user".into())],
        }
    }

    #[test]
    fn one_record_per_key_and_window_and_overflow_shares_one() {
        let t = Tally::new(2, 0);
        for _ in 0..1000 {
            t.count(key("a"));
        }
        t.count(key("b"));
        t.count(key("c"));
        t.count(key("d"));
        let records = t.close(10);
        assert_eq!(records.len(), 3);
        let a: Value = serde_json::from_str(records[0].detail.as_deref().unwrap()).unwrap();
        assert_eq!(records[0].actor, "*");
        assert_eq!(a["count"], 2);
        let a: Value = serde_json::from_str(records[1].detail.as_deref().unwrap()).unwrap();
        assert_eq!(
            (records[1].actor.as_str(), a["count"].as_u64()),
            ("user:a", Some(1000))
        );
        assert_eq!(a["scope"], "user");
        assert!(t.close(11).is_empty(), "a new window starts empty");
    }
}
