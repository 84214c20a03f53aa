//! The rule index: a decision through it names the same rule as a scan of every rule,
//! over generated routes (literal, wildcard and parameter first segments in both
//! cases, method lists, group conditions) and requests (every method class, an
//! extension method, paths that differ in case, empty segments, the root). And the
//! group index: a directory user's decision (the resolved table, rules for groups the
//! user is in none of skipped first) names the same rule as a scan that asks the user's
//! groups by name.

use std::sync::Arc;

use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{decide, set, Who};
use crate::directory::Directory;
use crate::policy::groups::Membership;
use crate::policy::model::RequestFacts;
use crate::policy::DirectorySubject;
use crate::record::{GroupRecord, Member, Snapshot, UserRecord};

const PATTERNS: &[&str] = &[
    "/a/**", "/A/b", "/a/b", "/b/{x}", "/*/c", "/**", "/", "/a", "/B/**", "/c/d/**", "/{p}/**",
];
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
/// `g4` is no directory group (see [`directory`]).
const GROUPS: &[&str] = &["g0", "g1", "g2", "g3", "g4"];
const PATHS: &[&str] = &[
    "/", "/a", "/A", "/a/b", "/A/B", "/a/B", "/b/1", "/B/1", "/x/c", "/a/c", "/c", "/c/d",
    "/C/D/e", "/a/b/c", "/zz", "/b",
];

fn pick<'a>(rng: &mut StdRng, from: &[&'a str], most: usize) -> Vec<&'a str> {
    let n = rng.random_range(0..=most);
    (0..n)
        .map(|_| from[rng.random_range(0..from.len())])
        .collect()
}

fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

fn rules(rng: &mut StdRng, kind: &str, count: usize) -> String {
    let mut out = format!("    {kind}:\n");
    for i in 0..count {
        out.push_str(&format!("      - name: {kind}-{i}\n"));
        let paths = pick(rng, PATTERNS, 2);
        if !paths.is_empty() {
            out.push_str(&format!("        paths: {}\n", list(&paths)));
        }
        let methods = pick(rng, METHODS, 2);
        if !methods.is_empty() {
            out.push_str(&format!("        methods: {}\n", list(&methods)));
        }
        let groups = pick(rng, GROUPS, 2);
        if groups.is_empty() && kind == "allow" {
            out.push_str("        everyone: true\n");
        } else if !groups.is_empty() {
            out.push_str(&format!("        groups: {}\n", list(&groups)));
        }
    }
    out
}

/// The rule a scan of every rule decides by (deny first, then allow).
fn scanned(s: &crate::policy::PolicySet, method: &Method, path: &str, who: &Who) -> String {
    let m = s
        .match_route("h", path)
        .expect("the route matches every path");
    let facts = RequestFacts { method, path };
    let groups = Membership::ByName(who);
    let first = |rules: &[crate::policy::rule::Rule]| {
        rules
            .iter()
            .find(|r| r.matches(&m.params, facts, who, &groups))
            .map(|r| r.by.rule.to_string())
    };
    first(&m.route.deny)
        .or_else(|| first(&m.route.allow))
        .unwrap_or_else(|| "default-deny".to_owned())
}

#[test]
fn the_index_decides_by_the_same_rule_as_a_scan() {
    let mut rng = StdRng::seed_from_u64(17);
    let purge = Method::from_bytes(b"PURGE").expect("a method");
    let mut compared = 0;
    for _ in 0..60 {
        let (denies, allows) = (rng.random_range(0..6), rng.random_range(1..12));
        let yaml = format!(
            "routes:\n  - name: r\n    match: {{ path: \"/**\" }}\n    upstream: http://127.0.0.1:9\n{}{}",
            rules(&mut rng, "deny", denies),
            rules(&mut rng, "allow", allows),
        );
        let s = set(&yaml);
        for _ in 0..80 {
            let groups = pick(&mut rng, GROUPS, 3);
            let who = Who::named("ann", &groups);
            let method = match rng.random_range(0..=METHODS.len()) {
                i if i == METHODS.len() => purge.clone(),
                i => Method::from_bytes(METHODS[i].as_bytes()).expect("a method"),
            };
            let path = PATHS[rng.random_range(0..PATHS.len())];
            let path = if rng.random_bool(0.2) {
                format!("/{path}/")
            } else {
                path.to_owned()
            };
            let indexed = decide(&s, method.clone(), "h", &path, &who).expect("routed");
            assert_eq!(
                indexed.by.rule.to_string(),
                scanned(&s, &method, &path, &who),
                "{method} {path} for {groups:?} under\n{yaml}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 60 * 80);
}

/// Groups `G0`..`G3` (the rules write them lower case; `g4` is no group), `G3` nested in
/// `G1`, and one user per subset of the four: user `k` is directly in `Gb` for each bit
/// `b` of `k`.
fn directory() -> Arc<Directory> {
    let users = (0..16u32)
        .map(|k| UserRecord {
            active: true,
            scim_managed: true,
            ..UserRecord::new(k, format!("u-{k}"), format!("user-{k}"))
        })
        .collect();
    let groups = (0..4u32)
        .map(|g| GroupRecord {
            scim_managed: true,
            ..GroupRecord::new(g, format!("g-{g}"), format!("G{g}"))
        })
        .collect();
    let mut memberships: Vec<(u32, Member)> = (0..16u32)
        .flat_map(|k| {
            (0..4u32)
                .filter(move |b| k & (1 << b) != 0)
                .map(move |b| (b, Member::User(k)))
        })
        .collect();
    memberships.push((1, Member::Group(3)));
    Arc::new(Directory::from_snapshot(Snapshot {
        users,
        groups,
        memberships,
        last_seq: 1,
    }))
}

#[test]
fn the_group_index_decides_by_the_same_rule_as_a_scan_by_name() {
    let dir = directory();
    let mut rng = StdRng::seed_from_u64(1717);
    let purge = Method::from_bytes(b"PURGE").expect("a method");
    let mut compared = 0;
    let mut allowed = 0;
    for _ in 0..60 {
        let (denies, allows) = (rng.random_range(0..6), rng.random_range(1..12));
        let yaml = format!(
            "routes:\n  - name: r\n    match: {{ path: \"/**\" }}\n    upstream: http://127.0.0.1:9\n{}{}",
            rules(&mut rng, "deny", denies),
            rules(&mut rng, "allow", allows),
        );
        let s = set(&yaml);
        for _ in 0..80 {
            let k = rng.random_range(0..16u32);
            let subject = DirectorySubject::new(
                &dir,
                dir.user_by_name(&format!("user-{k}")).expect("a user"),
            );
            // The same user as a scan sees them: effective groups, asked by name.
            let names = subject.group_names();
            let held: Vec<&'static str> = GROUPS
                .iter()
                .copied()
                .filter(|g| names.iter().any(|n| n.eq_ignore_ascii_case(g)))
                .collect();
            assert_eq!(held.len(), names.len(), "user-{k} is in {names:?}");
            let who = Who::named("ann", &held);
            let method = match rng.random_range(0..=METHODS.len()) {
                i if i == METHODS.len() => purge.clone(),
                i => Method::from_bytes(METHODS[i].as_bytes()).expect("a method"),
            };
            let path = PATHS[rng.random_range(0..PATHS.len())];
            let m = s.match_route("h", path).expect("routed");
            let facts = RequestFacts {
                method: &method,
                path,
            };
            let indexed = s.decide(&m, facts, &subject);
            assert_eq!(
                indexed.by.rule.to_string(),
                scanned(&s, &method, path, &who),
                "{method} {path} for user-{k} in {held:?} under\n{yaml}"
            );
            compared += 1;
            allowed += usize::from(indexed.allow);
        }
    }
    assert_eq!(compared, 60 * 80);
    // Both outcomes were compared, many times.
    assert!(
        allowed > 300 && compared - allowed > 300,
        "{allowed} of {compared} allowed"
    );
}
