//! The rules of one kind (`deny` or `allow`) of a route, indexed so that a decision
//! tests only the rules a request could match: by the request's method and by the
//! first segment of its path.
//!
//! A rule is a candidate for a method when it names no method or names that one, and
//! for a first path segment when it names no path, or one of its patterns may start
//! with that segment (a literal first segment equal to it, or a first segment that is
//! `*`, `{param}` or `**`, or no segment at all). Candidates keep the rules' order, so
//! the first match is the same rule as in a scan of all of them; each candidate is still
//! tested in full ([`Rule::matches`]), the index only skips rules that cannot match.
//! First segments compare as the rules' patterns do: deny rules without ASCII case.
//! Built once per policy set; a lookup allocates nothing unless the segment is longer
//! than [`STACK_SEGMENT`] bytes and the index folds case.

use std::collections::HashMap;

use http::Method;

use super::rule::Rule;

/// The methods with lists of their own; any other method shares the last list.
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::OPTIONS,
];
const CLASSES: usize = METHODS.len() + 1;
/// First segments up to this length are lower-cased on the stack.
const STACK_SEGMENT: usize = 128;

/// Candidate rule positions, per method class.
type PerMethod = [Box<[u32]>; CLASSES];

/// The index of one list of rules.
#[derive(Debug, Default)]
pub(crate) struct RuleIndex {
    fold_case: bool,
    /// Candidates when the path's first segment is a key (that segment's rules and the
    /// rules that may start with any segment).
    by_first: HashMap<Box<str>, PerMethod>,
    /// Candidates for every other path.
    any_first: PerMethod,
}

/// Which method classes a rule is a candidate for.
fn method_classes(rule: &Rule) -> [bool; CLASSES] {
    let methods = rule.methods();
    if methods.is_empty() {
        return [true; CLASSES];
    }
    let mut out = [false; CLASSES];
    for (i, m) in METHODS.iter().enumerate() {
        out[i] = methods.contains(m);
    }
    out[CLASSES - 1] = methods.iter().any(|m| !METHODS.contains(m));
    out
}

fn class_of(method: &Method) -> usize {
    METHODS
        .iter()
        .position(|m| m == method)
        .unwrap_or(CLASSES - 1)
}

fn lists(rules: &[Rule], keep: impl Fn(usize) -> bool) -> PerMethod {
    let classes: Vec<[bool; CLASSES]> = rules.iter().map(method_classes).collect();
    std::array::from_fn(|c| {
        (0..rules.len())
            .filter(|i| classes[*i][c] && keep(*i))
            .filter_map(|i| u32::try_from(i).ok())
            .collect()
    })
}

impl RuleIndex {
    /// Indexes `rules` (all of one kind, so all fold case or none do).
    pub(crate) fn new(rules: &[Rule], fold_case: bool) -> Self {
        // Per rule: `None` if it may start with any segment, else its literal firsts.
        let firsts: Vec<Option<Vec<&str>>> = rules.iter().map(Rule::first_segments).collect();
        let keys: Vec<&str> = {
            let mut k: Vec<&str> = firsts.iter().flatten().flatten().copied().collect();
            k.sort_unstable();
            k.dedup();
            k
        };
        let any_first = lists(rules, |i| firsts[i].is_none());
        let by_first = keys
            .into_iter()
            .map(|key| {
                let per = lists(rules, |i| match &firsts[i] {
                    None => true,
                    Some(f) => f.contains(&key),
                });
                (Box::from(key), per)
            })
            .collect();
        RuleIndex {
            fold_case,
            by_first,
            any_first,
        }
    }

    /// Positions of the rules that may match `method` on `path` (a normalised path),
    /// in rule order.
    pub(crate) fn candidates(&self, method: &Method, path: &str) -> &[u32] {
        let class = class_of(method);
        let first = path
            .strip_prefix('/')
            .unwrap_or(path)
            .split('/')
            .find(|s| !s.is_empty());
        let Some(first) = first.filter(|_| !self.by_first.is_empty()) else {
            return &self.any_first[class];
        };
        let found = if self.fold_case && first.bytes().any(|b| b.is_ascii_uppercase()) {
            if first.len() <= STACK_SEGMENT {
                let mut buf = [0u8; STACK_SEGMENT];
                let lower = &mut buf[..first.len()];
                lower.copy_from_slice(first.as_bytes());
                lower.make_ascii_lowercase();
                std::str::from_utf8(lower)
                    .ok()
                    .and_then(|l| self.by_first.get(l))
            } else {
                self.by_first.get(first.to_ascii_lowercase().as_str())
            }
        } else {
            self.by_first.get(first)
        };
        match found {
            Some(per) => &per[class],
            None => &self.any_first[class],
        }
    }
}
