//! One compiled `allow` or `deny` rule, and whether it matches a request and a user.
//!
//! A rule matches when every condition it states holds; each list is any-of. User and
//! group names, licenses and user types are turned into their caseless key
//! ([`crate::ident`]) once here, so that matching compares in place: deciding on a
//! route of hundreds of rules for a user in dozens of groups allocates nothing.

use std::sync::Arc;

use http::Method;

use super::error::Problems;
use super::groups::{GroupTable, Membership};
use super::mcp::{McpTargets, NamePattern, Operation};
use super::model::{RequestFacts, RuleRef, Subject};
use super::pattern::PathPattern;
use super::raw::{RawRule, SpannedList};
use super::values;
use super::yaml::at;

/// Whether a rule grants or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleKind {
    Allow,
    Deny,
}

impl RuleKind {
    fn key(self) -> &'static str {
        match self {
            RuleKind::Allow => "allow",
            RuleKind::Deny => "deny",
        }
    }
}

/// A `params:` entry: the parameter and the values it may take.
type ParamCondition = (Box<str>, Box<[Box<str>]>);

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// What a decision by this rule reports.
    pub by: RuleRef,
    /// Group displayNames as written (for the 403 page and `policy check`).
    pub group_names: Box<[Arc<str>]>,
    /// Their caseless keys (for matching).
    groups_lower: Box<[Box<str>]>,
    /// Their ids in the policy set's group table (filled by [`Rule::intern_groups`]).
    group_ids: Box<[u32]>,
    /// The rule names groups, all interned: it cannot match a user the resolved table
    /// says is in none of them.
    group_gate: bool,
    users: Box<[Box<str>]>,
    licenses: Box<[Box<str>]>,
    user_types: Box<[Box<str>]>,
    /// `everyone: true`, or a deny rule with no *who* condition.
    everyone: bool,
    /// Empty: any method.
    methods: Box<[Method]>,
    /// Empty: the whole route.
    paths: Box<[PathPattern]>,
    params: Box<[ParamCondition]>,
    /// Deny rules compare paths and parameters without ASCII case.
    fold_case: bool,
    /// On a `preset: mcp` route, the tools, resources and prompts it covers.
    pub(crate) mcp: McpTargets,
}

impl Rule {
    /// Whether the rule states any *who* condition (as opposed to "everyone").
    pub fn names_who(&self) -> bool {
        !self.everyone
    }

    /// Whether method, path and parameter conditions hold for this request.
    /// `route_params` are what the route's `match.path` captured from this path.
    pub fn request_matches(
        &self,
        route_params: &[(Arc<str>, String)],
        req: RequestFacts<'_>,
    ) -> bool {
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == req.method) {
            return false;
        }
        let mut matched: Option<&PathPattern> = None;
        if !self.paths.is_empty() {
            matched = self.paths.iter().find(|p| p.matches(req.path));
            if matched.is_none() {
                return false;
            }
        }
        self.params.iter().all(|(name, allowed)| {
            let value = matched
                .filter(|p| p.declares(name))
                .and_then(|p| p.capture(req.path, name))
                .or_else(|| {
                    route_params
                        .iter()
                        .find(|(n, _)| **n == **name)
                        .map(|(_, v)| v.as_str())
                });
            value.is_some_and(|v| {
                allowed.iter().any(|a| {
                    if self.fold_case {
                        a.eq_ignore_ascii_case(v)
                    } else {
                        **a == *v
                    }
                })
            })
        })
    }

    /// The methods it names (empty: any).
    pub(crate) fn methods(&self) -> &[Method] {
        &self.methods
    }

    /// The literal first segments its path patterns start with, or `None` when it may
    /// match a path whatever its first segment (no `paths:`, or a pattern that starts
    /// with a wildcard or has no segment).
    pub(crate) fn first_segments(&self) -> Option<Vec<&str>> {
        if self.paths.is_empty() {
            return None;
        }
        self.paths.iter().map(PathPattern::first_literal).collect()
    }

    /// Records the ids of the rule's group names in the set's table.
    pub(crate) fn intern_groups(&mut self, table: &mut GroupTable) {
        self.group_ids = self.groups_lower.iter().map(|g| table.intern(g)).collect();
        self.group_gate = !self.everyone && !self.groups_lower.is_empty();
    }

    /// Whether every *who* condition holds for `who`; group conditions are checked
    /// through `groups` (the set's resolved table, or by name).
    pub(crate) fn who_matches(&self, who: &dyn Subject, groups: &Membership<'_>) -> bool {
        if self.everyone {
            return true;
        }
        if !self.users.is_empty() && !self.users.iter().any(|u| eq_lower(who.user_name(), u)) {
            return false;
        }
        if !self.licenses.is_empty() {
            let Some(license) = who.license() else {
                return false;
            };
            if !self.licenses.iter().any(|l| eq_lower(license, l)) {
                return false;
            }
        }
        if !self.user_types.is_empty() {
            let Some(user_type) = who.user_type() else {
                return false;
            };
            if !self.user_types.iter().any(|t| eq_lower(user_type, t)) {
                return false;
            }
        }
        if self.groups_lower.is_empty() {
            return true;
        }
        if self.group_ids.len() == self.groups_lower.len() {
            return self
                .group_ids
                .iter()
                .zip(self.groups_lower.iter())
                .any(|(id, g)| groups.contains(*id, g));
        }
        self.groups_lower.iter().any(|g| who.in_group(g))
    }

    /// Whether the rule covers this MCP operation (always, without MCP conditions).
    pub(crate) fn covers(&self, op: &Operation<'_>) -> bool {
        self.mcp.covers(op, self.fold_case)
    }

    /// Whether the rule matches this request by this user.
    pub(crate) fn matches(
        &self,
        route_params: &[(Arc<str>, String)],
        req: RequestFacts<'_>,
        who: &dyn Subject,
        groups: &Membership<'_>,
    ) -> bool {
        self.groups_may_match(groups)
            && self.request_matches(route_params, req)
            && self.who_matches(who, groups)
    }

    /// `false` when the rule names groups and the resolved table says the user is in
    /// none of them, so it cannot match whatever the request: tested first, it skips
    /// the method, path and parameter conditions of rules for other people's groups.
    #[inline]
    pub(crate) fn groups_may_match(&self, groups: &Membership<'_>) -> bool {
        !self.group_gate || groups.may_hold_any(&self.group_ids)
    }
}

/// Whether `text`'s caseless key is `lower` (a caseless key), without allocating.
pub(crate) fn eq_lower(text: &str, lower: &str) -> bool {
    crate::ident::matches_key(text, lower)
}

/// What a rule is compiled against: its route's name and path pattern.
pub(crate) struct RuleContext<'a> {
    pub route: &'a Arc<str>,
    pub route_path: &'a PathPattern,
    /// Whether the route has `preset: mcp` (else `tools`, `resources` and `prompts` are
    /// refused).
    pub mcp: bool,
}

/// Compiles `raw`, the `index`th rule of its kind; problems go to `problems`.
pub(crate) fn compile(
    raw: &serde_saphyr::Spanned<RawRule>,
    kind: RuleKind,
    index: usize,
    ctx: &RuleContext<'_>,
    problems: &mut Problems<'_>,
) -> Option<Rule> {
    let before = problems.list.len();
    let r = &raw.value;
    let label: Arc<str> = match &r.name {
        Some(n) => {
            let ok = problems.check(at(n), values::name("rule name", &n.value));
            if ok.is_some() && values::RESERVED_RULE_NAMES.contains(&n.value.as_str()) {
                problems.at(at(n), format!("rule name `{}` is reserved", n.value));
            }
            Arc::from(n.value.as_str())
        }
        None => Arc::from(format!("{}[{index}]", kind.key())),
    };
    let groups = strings(&r.groups, "groups", problems);
    let users = strings(&r.users, "users", problems);
    for (list, what) in [(&r.groups, "group"), (&r.users, "user")] {
        for v in list.iter().flat_map(|l| l.value.iter()) {
            problems.check(at(v), values::identifier(what, &v.value));
        }
    }
    let licenses = strings(&r.licenses, "licenses", problems);
    let user_types = strings(&r.user_types, "user_types", problems);
    if let Some(list) = &r.licenses {
        for l in &list.value {
            if !values::LICENSE_TYPES.contains(&l.value.to_lowercase().as_str()) {
                problems.at(
                    at(l),
                    format!(
                        "unknown license type `{}` (one of {})",
                        l.value,
                        values::LICENSE_TYPES.join(", ")
                    ),
                );
            }
        }
    }
    let names_who =
        r.groups.is_some() || r.users.is_some() || r.licenses.is_some() || r.user_types.is_some();
    let everyone = match &r.everyone {
        Some(e) if e.value && names_who => {
            problems.at(
                at(e),
                "`everyone: true` cannot be combined with groups, users, licenses or user_types",
            );
            false
        }
        Some(e) if !e.value && !names_who => {
            problems.at(
                at(e),
                "`everyone: false` matches no one; name groups, users, licenses or user_types instead",
            );
            false
        }
        Some(e) => e.value,
        None => !names_who,
    };
    if kind == RuleKind::Allow && r.everyone.is_none() && !names_who {
        problems.at(
            at(raw),
            "an allow rule must say who: groups, users, licenses, user_types, or `everyone: true`",
        );
    }
    let mut methods = Vec::new();
    if let Some(list) = nonempty(&r.methods, "methods", problems) {
        for m in &list.value {
            if let Some(method) = problems.check(at(m), values::method(&m.value)) {
                methods.push(method);
            }
        }
    }
    let fold_case = kind == RuleKind::Deny;
    let mut paths = Vec::new();
    if let Some(list) = nonempty(&r.paths, "paths", problems) {
        for p in &list.value {
            if let Some(pattern) = problems.check(at(p), PathPattern::parse(&p.value, fold_case)) {
                paths.push(pattern);
            }
        }
    }
    let mut params = Vec::new();
    if let Some(map) = &r.params {
        if map.value.0.is_empty() {
            problems.at(at(map), "`params: {}` constrains nothing; remove it");
        }
        for (key, list) in &map.value.0 {
            let name = key.value.as_str();
            let declared = ctx.route_path.declares(name) || paths.iter().any(|p| p.declares(name));
            if !declared {
                problems.at(
                    at(key),
                    format!(
                        "params.{name}: neither match.path nor this rule's paths capture {{{name}}}"
                    ),
                );
            }
            if list.value.is_empty() {
                problems.at(
                    at(list),
                    format!("params.{name}: an empty list matches nothing"),
                );
            }
            let allowed: Box<[Box<str>]> =
                list.value.iter().map(|v| v.value.as_str().into()).collect();
            params.push((Box::from(name), allowed));
        }
    }
    let mcp = mcp_targets(r, ctx.mcp, fold_case, problems);
    if problems.list.len() > before {
        return None;
    }
    Some(Rule {
        by: RuleRef {
            route: ctx.route.clone(),
            rule: label,
            location: Arc::from(super::error::file_line(problems.file, at(raw))),
        },
        group_names: groups.iter().map(|g| Arc::from(g.as_str())).collect(),
        groups_lower: lower_all(&groups),
        group_ids: Box::default(),
        group_gate: false,
        users: lower_all(&users),
        licenses: lower_all(&licenses),
        user_types: lower_all(&user_types),
        everyone,
        methods: methods.into(),
        paths: paths.into(),
        params: params.into(),
        fold_case,
        mcp,
    })
}

/// The rule's `tools`, `resources` and `prompts` (only on a `preset: mcp` route).
fn mcp_targets(
    r: &RawRule,
    mcp_route: bool,
    fold_case: bool,
    problems: &mut Problems<'_>,
) -> McpTargets {
    let mut list = |raw: &Option<SpannedList>, key: &str| -> Box<[NamePattern]> {
        let Some(l) = nonempty(raw, key, problems) else {
            return Box::default();
        };
        if !mcp_route {
            problems.at(at(l), format!("`{key}` is for routes with `preset: mcp`"));
            return Box::default();
        }
        l.value
            .iter()
            .filter_map(|p| problems.check(at(p), NamePattern::parse(&p.value, fold_case)))
            .collect()
    };
    McpTargets {
        tools: list(&r.tools, "tools"),
        resources: list(&r.resources, "resources"),
        prompts: list(&r.prompts, "prompts"),
    }
}

/// The list's strings; an empty list is a problem (it would match no one).
fn strings(list: &Option<SpannedList>, key: &str, problems: &mut Problems<'_>) -> Vec<String> {
    match nonempty(list, key, problems) {
        Some(l) => l.value.iter().map(|s| s.value.clone()).collect(),
        None => Vec::new(),
    }
}

fn nonempty<'l>(
    list: &'l Option<SpannedList>,
    key: &str,
    problems: &mut Problems<'_>,
) -> Option<&'l SpannedList> {
    let l = list.as_ref()?;
    if l.value.is_empty() {
        problems.at(
            at(l),
            format!(
                "`{key}: []` is empty and would match nothing; list at least one or remove the key"
            ),
        );
        return None;
    }
    Some(l)
}

fn lower_all(list: &[String]) -> Box<[Box<str>]> {
    list.iter()
        .map(|s| crate::ident::caseless_key(s).into())
        .collect()
}
