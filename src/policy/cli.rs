//! The `scimgate policy` commands as plain functions (the binary wires the flags):
//! `check` validates a directory, `explain` shows how one request is decided for one
//! directory user, `run_tests` runs a test file of fixture users and cases.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::model::{Decision, RequestFacts, RuleRef, Subject};
use super::request::{method_of, parse_request_line, split_url};
use super::route::Route;
use super::set::PolicySet;
use super::testfile::{Expect, FixtureSubject, TestFile};
use super::{yaml, DirectorySubject, BAD_PATH, INACTIVE_USER, NO_ROUTE, UNKNOWN_USER};
use crate::directory::Directory;

/// A path normaliser (the proxy's, or [`super::request::simple_normalise`]).
pub type Normalise<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Validates the policy files of `dir` and prints what it found; with a directory,
/// warns about groups that do not exist or have no members. `Ok(false)` when the
/// files were refused (the problems are printed).
pub fn check(dir: &Path, directory: Option<&Directory>) -> anyhow::Result<bool> {
    let mut out = std::io::stdout().lock();
    check_to(&mut out, dir, directory)
}

pub(crate) fn check_to(
    out: &mut dyn Write,
    dir: &Path,
    directory: Option<&Directory>,
) -> anyhow::Result<bool> {
    // Secrets are checked for presence, not needed: a CI job without them can check.
    let (loaded, unresolved) = crate::secret::with_placeholders(|| PolicySet::load_dir(dir));
    for u in &unresolved {
        writeln!(
            out,
            "warning: {u}: `scimgate serve` refuses these policies until it is resolved"
        )?;
    }
    let set = match loaded {
        Ok(set) => set,
        Err(e) => {
            let problems = e.problems();
            for p in &problems {
                writeln!(out, "{p}")?;
            }
            let n = problems.len();
            let s = if n == 1 { "" } else { "s" };
            writeln!(out, "{n} problem{s}: the policies were not loaded")?;
            return Ok(false);
        }
    };
    if set.files().is_empty() {
        writeln!(
            out,
            "{}: no policy files (*.yaml): every request will be denied",
            dir.display()
        )?;
    }
    for file in set.files() {
        let n = set.routes().iter().filter(|r| r.file() == &**file).count();
        let s = if n == 1 { "" } else { "s" };
        writeln!(out, "{file}: ok ({n} route{s})")?;
    }
    for route in set.routes() {
        for q in route.requestable() {
            writeln!(
                out,
                "{}: route `{}`: {}",
                q.location,
                route.name,
                q.describe()
            )?;
        }
    }
    if let Some(directory) = directory {
        for w in super::warnings::group_warnings(&set, directory) {
            writeln!(out, "warning: {w}")?;
        }
    }
    Ok(true)
}

/// How `user` (a userName) fares with `method url`: the route, the user, their groups,
/// the decision and the rule that made it; with a `shadow` set, its decision too.
pub fn explain(
    set: &PolicySet,
    shadow: Option<&PolicySet>,
    directory: &Arc<Directory>,
    user: &str,
    method: &str,
    url: &str,
    normalise: Normalise<'_>,
) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let method = method_of(method).map_err(anyhow::Error::msg)?;
    let (host, raw_path) = split_url(url).map_err(anyhow::Error::msg)?;
    let mut s = String::new();
    let path = match normalise(raw_path) {
        Ok(p) => p,
        Err(e) => {
            writeln!(s, "request:  {method} {url}")?;
            writeln!(s, "path:     refused: {e}")?;
            writeln!(s, "decision: deny by {BAD_PATH} (the proxy answers 400)")?;
            return Ok(s);
        }
    };
    let shown_host = if host.is_empty() { "(any host)" } else { host };
    writeln!(s, "request:  {method} {shown_host} {path}")?;
    let Some(m) = set.match_route(host, &path) else {
        writeln!(s, "route:    none matches this host and path")?;
        writeln!(s, "decision: deny by {NO_ROUTE}")?;
        return Ok(s);
    };
    let route = m.route;
    writeln!(
        s,
        "route:    {} ({}; host {}, path {})",
        route.name,
        route.location,
        route.host_pattern(),
        route.path_pattern().as_str()
    )?;
    for (name, value) in &m.params {
        writeln!(s, "param:    {name} = {value}")?;
    }
    if route.dbt_platform().is_some() {
        match super::dbt::classify(&method, route.preset_path(&path)) {
            Some(op) => {
                let project = op
                    .project_id
                    .map_or_else(|| "account-level".to_owned(), |p| format!("project {p}"));
                writeln!(
                    s,
                    "operation: {} {} ({} {}, {project})",
                    op.op.verb.name(),
                    op.op.path,
                    op.op.area,
                    op.op.access
                )?;
            }
            None => writeln!(s, "operation: unknown to the dbt-platform preset")?,
        }
    }
    let req = RequestFacts {
        method: &method,
        path: &path,
    };
    let mut cell = None;
    let mut shadow_decision = None;
    let mut asker = None;
    let decision = match directory.user_by_name(user) {
        None => {
            writeln!(s, "user:     {user}: not in the directory")?;
            route.deny_by(UNKNOWN_USER)
        }
        Some(record) if !record.active => {
            writeln!(s, "user:     {} (inactive)", record.user_name)?;
            route.deny_by(INACTIVE_USER)
        }
        Some(record) => {
            let subject = DirectorySubject::new(directory, record);
            let license = subject.license().unwrap_or("none");
            writeln!(
                s,
                "user:     {} (active, license {license})",
                subject.user_name()
            )?;
            let groups = subject.group_names();
            let groups = if groups.is_empty() {
                "none".to_owned()
            } else {
                groups.join(", ")
            };
            writeln!(s, "groups:   {groups}")?;
            let decision = set.decide(&m, req, &subject);
            cell = documented_cell(route, &method, &path, &decision, &subject);
            shadow_decision =
                shadow.map(|sh| super::shadow::decide_anywhere(sh, host, req, &subject));
            asker = Some(subject);
            decision
        }
    };
    writeln!(s, "decision: {}", describe(&decision))?;
    if let Some(cell) = cell {
        writeln!(s, "cell:     {cell}")?;
    }
    if let Some(limits) = &route.rate_limit {
        writeln!(s, "limits:   {}", describe_limits(limits))?;
    }
    if shadow.is_some() {
        // An unknown or inactive user is refused before any rule: by both sets.
        let theirs = shadow_decision.unwrap_or_else(|| decision.clone());
        let verdict = match (decision.allow, theirs.allow) {
            (false, true) => "differs: the shadow set would allow",
            (true, false) => "differs: the shadow set would deny",
            _ => "same",
        };
        writeln!(s, "shadow:   {} ({verdict})", describe(&theirs))?;
    }
    if decision.allow {
        for line in route.auth.explain(req) {
            writeln!(s, "{line}")?;
        }
    }
    if !decision.allow {
        let groups = set.allowing_groups(route, req);
        if !groups.is_empty() {
            let names: Vec<&str> = groups.iter().map(|g| &**g).collect();
            writeln!(s, "allowed:  members of {}", names.join(", "))?;
        }
        for q in set.requestable_for(route, req) {
            let may = match &asker {
                Some(who) if q.may_request(who) => format!("{user} may request it"),
                _ => format!("{user} may not request it"),
            };
            writeln!(s, "requestable: {} ({}; {may})", q.describe(), q.location)?;
        }
    }
    Ok(s)
}

/// A route's rate limits, one line.
fn describe_limits(l: &super::rate_limit::RateLimits) -> String {
    let rate =
        |r: &super::rate_limit::Rate| format!("{}/{}s burst {}", r.quota, r.window_secs, r.burst);
    let mut parts = Vec::new();
    if let Some(r) = &l.per_user {
        parts.push(format!("per user {}", rate(r)));
    }
    for (t, r) in &l.user_types {
        parts.push(format!("user type {t} {}", rate(r)));
    }
    if let Some(r) = &l.route {
        parts.push(format!("route {}", rate(r)));
    }
    if let Some((r, _)) = &l.service_token {
        parts.push(format!("service token {}", rate(r)));
    }
    parts.join("; ")
}

/// The documented cell of dbt's tables behind a dbt-platform decision (by a grant,
/// a license's fixed grant or the own-user right).
fn documented_cell(
    route: &Route,
    method: &http::Method,
    path: &str,
    decision: &Decision,
    who: &dyn Subject,
) -> Option<super::dbt::CellRef> {
    let policy = route.dbt_platform()?;
    let m = super::dbt::classify(method, route.preset_path(path))?;
    if !decision.allow {
        return None;
    }
    policy.cell_of(&decision.by, &m, who)
}

/// Runs the cases of a test file against `set`: `(passed, failures)`, each failure
/// naming the case, its `file:line`, what was expected and what was decided.
pub fn run_tests(
    set: &PolicySet,
    file: &Path,
    normalise: Normalise<'_>,
) -> anyhow::Result<(usize, Vec<String>)> {
    let shown = file.display().to_string();
    let text = std::fs::read_to_string(file).with_context(|| format!("{shown}: cannot read"))?;
    let tests: Option<TestFile> = yaml::parse(&shown, &text)?;
    let Some(tests) = tests else {
        return Ok((0, Vec::new()));
    };
    let mut users: Vec<FixtureSubject> = Vec::new();
    for u in &tests.users {
        if users
            .iter()
            .any(|x| crate::ident::same(&x.user_name, &u.value.user_name))
        {
            anyhow::bail!(
                "{shown}:{}:{}: user `{}` is listed twice",
                u.referenced.line(),
                u.referenced.column(),
                u.value.user_name
            );
        }
        users.push(FixtureSubject::from(&u.value));
    }
    let mut passed = 0;
    let mut failures = Vec::new();
    for case in &tests.cases {
        let c = &case.value;
        let at = format!("{shown}:{}", case.referenced.line());
        match run_case(set, &users, c, normalise) {
            Err(reason) => failures.push(format!("{at}: {}: {reason}", c.name)),
            Ok(()) => passed += 1,
        }
    }
    Ok((passed, failures))
}

fn run_case(
    set: &PolicySet,
    users: &[FixtureSubject],
    case: &super::testfile::TestCase,
    normalise: Normalise<'_>,
) -> Result<(), String> {
    let req = parse_request_line(&case.request)?;
    // What `who` could request that would allow a refused request.
    let mut offered: Vec<String> = Vec::new();
    let (route, decision) = match normalise(&req.path) {
        Err(_) => (None, fixed_denial(BAD_PATH)),
        Ok(path) => match set.match_route(&req.host, &path) {
            None => (None, fixed_denial(NO_ROUTE)),
            Some(m) => {
                let facts = RequestFacts {
                    method: &req.method,
                    path: &path,
                };
                let decision = match users.iter().find(|u| eq_ci(&u.user_name, &case.who)) {
                    None => m.route.deny_by(UNKNOWN_USER),
                    Some(u) if !u.active => m.route.deny_by(INACTIVE_USER),
                    Some(u) => {
                        let decision = set.decide(&m, facts, u);
                        if !decision.allow {
                            offered = set
                                .requestable_for(m.route, facts)
                                .into_iter()
                                .filter(|q| q.may_request(u))
                                .map(|q| q.group.to_string())
                                .collect();
                        }
                        decision
                    }
                };
                (Some(m.route), decision)
            }
        },
    };
    let want_allow = case.expect == Expect::Allow;
    let rule_ok = case.rule.as_deref().is_none_or(|r| r == &*decision.by.rule);
    if decision.allow != want_allow || !rule_ok {
        let want = match (&case.rule, want_allow) {
            (Some(r), true) => format!("allow by {r}"),
            (Some(r), false) => format!("deny by {r}"),
            (None, true) => "allow".to_owned(),
            (None, false) => "deny".to_owned(),
        };
        return Err(format!("expected {want}, got {}", describe(&decision)));
    }
    if let Some(want) = &case.route {
        let got = route.map_or("no route", |r: &Arc<Route>| &*r.name);
        if got != want {
            return Err(format!("expected route {want}, got {got}"));
        }
    }
    if let Some(want) = &case.requestable {
        let key = |g: &String| crate::ident::caseless_key(g);
        let mut want_keys: Vec<String> = want.iter().map(key).collect();
        let mut got_keys: Vec<String> = offered.iter().map(key).collect();
        want_keys.sort();
        got_keys.sort();
        if want_keys != got_keys {
            return Err(format!(
                "expected requestable [{}], got [{}]",
                want.join(", "),
                offered.join(", ")
            ));
        }
    }
    Ok(())
}

fn eq_ci(a: &str, b: &str) -> bool {
    crate::ident::same(a, b)
}

/// A denial that comes before any route's rules (no route, bad path).
fn fixed_denial(rule: &str) -> Decision {
    Decision {
        allow: false,
        by: RuleRef {
            route: Arc::from(""),
            rule: Arc::from(rule),
            location: Arc::from(""),
        },
    }
}

/// `allow by analysts-read (policies/docs.yaml:20)`.
fn describe(d: &Decision) -> String {
    let verdict = if d.allow { "allow" } else { "deny" };
    if d.by.location.is_empty() {
        format!("{verdict} by {}", d.by.rule)
    } else {
        format!("{verdict} by {} ({})", d.by.rule, d.by.location)
    }
}
