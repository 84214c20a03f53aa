//! Decision cost of the dbt-platform preset against a plain rule route:
//!
//! ```text
//! cargo bench --bench policy_decide
//! ```
//!
//! The preset route has 100 grants (every permission set, some on listed projects) and
//! is asked every operation of the catalogue (Admin v2/v3 and GraphQL, each made into a
//! concrete path); the plain route has 10 rules (groups, methods, paths) and is asked a
//! mix of allowed and denied paths. The same user, in 50 groups, asks both. Criterion
//! reports each policy's mean; then 200,000 individual decisions of each are timed one by
//! one for p50/p99, and the ratio of the preset to the plain route is printed. Only
//! `PolicySet::decide` is timed (the route is matched beforehand).

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Instant;

use criterion::Criterion;
use http::Method;
use scimgate::policy::dbt::{catalogue, PermissionSet};
use scimgate::policy::{PolicySet, RequestFacts, RouteMatch, Subject};

/// A user in 50 groups (looked up by lower-case name, as the directory does).
struct Member {
    groups: HashSet<String>,
}

impl Subject for Member {
    fn id(&self) -> &str {
        "u-1"
    }
    fn user_name(&self) -> &str {
        "bench"
    }
    fn emails(&self) -> &[Box<str>] {
        &[]
    }
    fn license(&self) -> Option<&str> {
        Some("developer")
    }
    fn user_type(&self) -> Option<&str> {
        None
    }
    fn in_group(&self, display_name: &str) -> bool {
        self.groups.contains(display_name)
    }
}

fn member() -> Member {
    // Groups team-0, team-2, ... team-98: half of the granted groups.
    Member {
        groups: (0..50).map(|i| format!("team-{}", i * 2)).collect(),
    }
}

fn preset_policy() -> String {
    let mut yaml = String::from(
        "routes:\n  - name: dbt\n    preset: dbt-platform\n    upstream: https://cloud.example.com\n    grants:\n",
    );
    let sets = PermissionSet::ALL;
    for i in 0..100 {
        // Every set in turn; account_admin only for groups the user is not in (odd),
        // so that some operations are refused after looking at every grant.
        let set = sets[(i * 7) % sets.len()];
        let set = if set == PermissionSet::AccountAdmin && i % 2 == 0 {
            PermissionSet::JobViewer
        } else {
            set
        };
        let projects = if i % 3 == 0 {
            ", projects: [123, 456]"
        } else {
            ""
        };
        yaml.push_str(&format!(
            "      - {{ group: team-{i}, permission_set: {}{projects} }}\n",
            set.name()
        ));
    }
    yaml
}

fn plain_policy() -> String {
    let mut yaml =
        String::from("routes:\n  - name: app\n    upstream: http://127.0.0.1:8081\n    allow:\n");
    for i in 0..8 {
        // Rules for groups the user is in (even) and is not in (odd), alternately.
        yaml.push_str(&format!(
            "      - {{ groups: [team-{}, other-{i}], methods: [GET, HEAD], paths: [\"/p/{i}/**\"] }}\n",
            i + 20
        ));
    }
    yaml.push_str("    deny:\n");
    yaml.push_str("      - { paths: [\"/p/*/run_results.json\"] }\n");
    yaml.push_str("      - { user_types: [contractor], paths: [\"/p/9/**\"] }\n");
    yaml
}

/// Every catalogue operation as a concrete request.
fn preset_requests() -> Vec<(Method, String)> {
    catalogue::all()
        .map(|op| {
            let path: Vec<&str> = op
                .path
                .split('/')
                .map(|s| match s {
                    "{account_id}" => "1",
                    "{project_id}" => "123",
                    "{remainder}" => "manifest.json",
                    s if s.starts_with('{') => "77",
                    s => s,
                })
                .collect();
            let method = Method::from_bytes(op.verb.name().as_bytes()).unwrap_or(Method::GET);
            (method, path.join("/"))
        })
        .collect()
}

fn plain_requests() -> Vec<(Method, String)> {
    let mut out = Vec::new();
    for i in 0..10 {
        out.push((Method::GET, format!("/p/{i}/index.html")));
        out.push((Method::POST, format!("/p/{i}/manifest.json")));
        out.push((Method::GET, format!("/p/{i}/run_results.json")));
    }
    out
}

struct Case {
    set: PolicySet,
    requests: Vec<(Method, String)>,
}

impl Case {
    fn new(yaml: String, requests: Vec<(Method, String)>) -> Case {
        let set = match PolicySet::from_sources(&[("bench.yaml".to_owned(), yaml)]) {
            Ok(s) => s,
            Err(e) => panic!("bench policy refused: {e}"),
        };
        Case { set, requests }
    }

    fn matches(&self) -> Vec<(RouteMatch<'_>, &Method, &str)> {
        self.requests
            .iter()
            .map(|(m, p)| {
                let rm = self
                    .set
                    .match_route("h", p)
                    .unwrap_or_else(|| panic!("no route for {p}"));
                (rm, m, p.as_str())
            })
            .collect()
    }
}

fn decide_all(set: &PolicySet, matches: &[(RouteMatch<'_>, &Method, &str)], who: &Member) -> usize {
    let mut allowed = 0;
    for (m, method, path) in matches {
        let d = set.decide(m, RequestFacts { method, path }, who);
        allowed += usize::from(black_box(d).allow);
    }
    allowed
}

/// p50 and p99 of `n` individually timed decisions, in nanoseconds.
fn percentiles(
    set: &PolicySet,
    matches: &[(RouteMatch<'_>, &Method, &str)],
    who: &Member,
    n: usize,
) -> (u128, u128) {
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let (m, method, path) = &matches[i % matches.len()];
        let start = Instant::now();
        let d = set.decide(m, RequestFacts { method, path }, who);
        black_box(d);
        times.push(start.elapsed().as_nanos());
    }
    times.sort_unstable();
    (times[n / 2], times[n * 99 / 100])
}

fn main() {
    let who = member();
    let preset = Case::new(preset_policy(), preset_requests());
    let plain = Case::new(plain_policy(), plain_requests());
    let preset_matches = preset.matches();
    let plain_matches = plain.matches();
    println!(
        "policy_decide preset: {} operations, {} allowed to the bench user; plain: {} requests, {} allowed",
        preset_matches.len(),
        decide_all(&preset.set, &preset_matches, &who),
        plain_matches.len(),
        decide_all(&plain.set, &plain_matches, &who),
    );

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("decide/dbt-platform (per request)", |b| {
        let mut i = 0;
        b.iter(|| {
            let (m, method, path) = &preset_matches[i % preset_matches.len()];
            i += 1;
            preset.set.decide(m, RequestFacts { method, path }, &who)
        })
    });
    c.bench_function("decide/plain 10 rules (per request)", |b| {
        let mut i = 0;
        b.iter(|| {
            let (m, method, path) = &plain_matches[i % plain_matches.len()];
            i += 1;
            plain.set.decide(m, RequestFacts { method, path }, &who)
        })
    });
    c.final_summary();

    let n = 200_000;
    // Warm both, then sample each.
    percentiles(&preset.set, &preset_matches, &who, 20_000);
    percentiles(&plain.set, &plain_matches, &who, 20_000);
    let (pp50, pp99) = percentiles(&preset.set, &preset_matches, &who, n);
    let (lp50, lp99) = percentiles(&plain.set, &plain_matches, &who, n);
    println!("policy_decide dbt-platform p50 {pp50} ns p99 {pp99} ns");
    println!("policy_decide plain-10-rules p50 {lp50} ns p99 {lp99} ns");
    println!(
        "policy_decide ratio p50 {:.2}x p99 {:.2}x (target <= 2x)",
        pp50 as f64 / lp50.max(1) as f64,
        pp99 as f64 / lp99.max(1) as f64
    );
}
