//! Requestable grants: who may ask for which extra group on a route, for how long at
//! most, who approves and how many approvals it takes.
//!
//! Written as a route's `requests:` list, or as `requestable:` on a `preset:
//! dbt-platform` grant (the grant's group is the one requested). The requested group
//! must be one the route's allow rules or grants name, else holding it would change
//! nothing there. What a requestable grant says is checked here; the requests
//! themselves and their approvals live in `crate::access`, and the time-bound
//! memberships they become in the directory layer (`crate::directory::grants`).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::error::{file_line, Problems};
use super::model::Subject;
use super::raw::{RawRoute, SpannedList};
use super::values;
use super::yaml::at;

/// The longest a requestable grant may last (as Teleport caps access requests).
pub const MAX_GRANT_DURATION: Duration = Duration::from_secs(14 * 24 * 3600);
/// The most approvals a requestable grant may ask for.
pub const MAX_APPROVALS: i64 = 10;

/// One `requests:` entry as written, or `requestable:` on a dbt-platform grant (which
/// names no `group`: the grant's own is the one requested).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRequestable {
    #[serde(default)]
    pub group: Option<Spanned<String>>,
    pub requesters: SpannedList,
    pub approvers: SpannedList,
    pub max_duration: Spanned<String>,
    #[serde(default)]
    pub approvals: Option<Spanned<i64>>,
    #[serde(default)]
    pub reason_required: Option<bool>,
}

/// One compiled requestable grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requestable {
    /// The route it belongs to.
    pub route: Arc<str>,
    /// The extra group a request asks for, as written.
    pub group: Arc<str>,
    /// Groups whose members may ask (any of them).
    pub requesters: Box<[Arc<str>]>,
    /// Groups whose members may approve (any of them; never the requester).
    pub approvers: Box<[Arc<str>]>,
    /// The longest a grant may last.
    pub max_duration: Duration,
    /// Distinct approvers needed.
    pub approvals: u32,
    /// Whether a request must say why.
    pub reason_required: bool,
    /// `file:line` where it is written.
    pub location: Arc<str>,
}

impl Requestable {
    /// Whether `who` may ask for it.
    pub fn may_request(&self, who: &dyn Subject) -> bool {
        self.requesters.iter().any(|g| who.in_group(g))
    }

    /// Whether `who` may approve a request for it (the caller refuses the requester).
    pub fn may_approve(&self, who: &dyn Subject) -> bool {
        self.approvers.iter().any(|g| who.in_group(g))
    }

    /// `members of a, b may request g for up to 4h; 2 approvals from x; reason required`.
    pub fn describe(&self) -> String {
        let s = if self.approvals == 1 { "" } else { "s" };
        let reason = if self.reason_required {
            "reason required"
        } else {
            "reason optional"
        };
        format!(
            "members of {} may request `{}` for up to {}; {} approval{s} from {}; {reason}",
            join(&self.requesters),
            self.group,
            show_duration(self.max_duration),
            self.approvals,
            join(&self.approvers),
        )
    }
}

fn join(names: &[Arc<str>]) -> String {
    names.iter().map(|n| &**n).collect::<Vec<_>>().join(", ")
}

/// `4h`, `90m`, `45s`: the largest whole unit.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A duration as written in a request or a form: `4h`, `90m`, `45s`, `500ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    values::duration(text)
}

/// Compiles a requestable grant of `group` on `route`; problems go to `problems`.
pub(crate) fn compile(
    route: &Arc<str>,
    group: &Spanned<String>,
    terms: &RawRequestable,
    file: &str,
    problems: &mut Problems<'_>,
) -> Option<Requestable> {
    let before = problems.list.len();
    problems.check(at(group), values::identifier("group", &group.value));
    let requesters = groups("requesters", &terms.requesters, problems);
    let approvers = groups("approvers", &terms.approvers, problems);
    let max_duration = problems.check(
        at(&terms.max_duration),
        values::duration(&terms.max_duration.value).and_then(|d| {
            if d > MAX_GRANT_DURATION {
                Err(format!(
                    "max_duration `{}` is longer than 14 days (336h)",
                    terms.max_duration.value
                ))
            } else if d < Duration::from_secs(1) {
                Err(format!(
                    "max_duration `{}` is shorter than a second",
                    terms.max_duration.value
                ))
            } else {
                Ok(d)
            }
        }),
    );
    let approvals = match &terms.approvals {
        None => Some(1),
        Some(n) if !(1..=MAX_APPROVALS).contains(&n.value) => {
            problems.at(
                at(n),
                format!("approvals must be from 1 to {MAX_APPROVALS}"),
            );
            None
        }
        Some(n) => u32::try_from(n.value).ok(),
    };
    if problems.list.len() > before {
        return None;
    }
    Some(Requestable {
        route: route.clone(),
        group: Arc::from(group.value.as_str()),
        requesters,
        approvers,
        max_duration: max_duration?,
        approvals: approvals?,
        reason_required: terms.reason_required.unwrap_or(true),
        location: Arc::from(file_line(file, at(group))),
    })
}

/// A non-empty list of group names.
fn groups(key: &str, list: &SpannedList, problems: &mut Problems<'_>) -> Box<[Arc<str>]> {
    if list.value.is_empty() {
        problems.at(at(list), format!("`{key}` names no group"));
    }
    let mut out: Vec<Arc<str>> = Vec::new();
    for g in &list.value {
        if problems
            .check(at(g), values::identifier("group", &g.value))
            .is_some()
            && !out.iter().any(|o| crate::ident::same(o, &g.value))
        {
            out.push(Arc::from(g.value.as_str()));
        }
    }
    out.into()
}

/// Checks a route's requestable grants against what the route names: each requested
/// group must be named by an allow rule or a grant (`named`), and be requestable once.
fn check_route(
    route: &str,
    list: &[(Requestable, serde_saphyr::Location)],
    named: Option<&[&str]>,
    problems: &mut Problems<'_>,
) {
    for (i, (r, at)) in list.iter().enumerate() {
        let unused = named.is_some_and(|n| !n.iter().any(|n| crate::ident::same(n, &r.group)));
        if unused {
            problems.at(
                at,
                format!(
                    "requested group `{}` is named by no allow rule or grant of route `{route}`: holding it would allow nothing there",
                    r.group
                ),
            );
        }
        if let Some((_, first)) = list[..i]
            .iter()
            .find(|(o, _)| crate::ident::same(&o.group, &r.group))
        {
            problems.at(
                at,
                format!(
                    "group `{}` is requestable twice on route `{route}` (also at line {})",
                    r.group,
                    first.line()
                ),
            );
        }
    }
}

/// Every requestable grant of a route: its `requests:` entries, then the `requestable:`
/// of its grants. `named` are the groups its allow rules and grants name (`None`: not
/// known, as its grants were refused).
pub(crate) fn compile_route(
    route: &Arc<str>,
    raw: &RawRoute,
    named: Option<&[&str]>,
    problems: &mut Problems<'_>,
) -> Box<[Requestable]> {
    let file = problems.file;
    let mut list: Vec<(Requestable, serde_saphyr::Location)> = Vec::new();
    for entry in raw.requests.iter().flat_map(|l| &l.value) {
        let Some(group) = &entry.value.group else {
            problems.at(at(entry), "a `requests` entry names the `group` it grants");
            continue;
        };
        if let Some(r) = compile(route, group, &entry.value, file, problems) {
            list.push((r, *at(entry)));
        }
    }
    for grant in raw.grants.iter().flat_map(|g| &g.value) {
        let Some(terms) = &grant.value.requestable else {
            continue;
        };
        if let Some(g) = &terms.value.group {
            problems.at(
                at(g),
                "`requestable` on a grant requests the grant's own group: remove `group`",
            );
            continue;
        }
        if let Some(r) = compile(route, &grant.value.group, &terms.value, file, problems) {
            list.push((r, *at(terms)));
        }
    }
    check_route(route, &list, named, problems);
    list.into_iter().map(|(r, _)| r).collect()
}
