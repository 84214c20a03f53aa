//! The compiled policy set: routing, decisions, and what `policy check` reports.
//!
//! A set is built whole from its source files and never changed; a reload builds a
//! new one (see [`super::reload`]). Routing tries routes in precedence order, computed
//! once: exact host before wildcard host before any host, then more literal path
//! segments, then file order. Deciding reads only precompiled rules and the subject.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::agents::{self, AgentCap};
use super::dbt;
use super::error::{at_location, PolicyError, Problems};
use super::groups::{GroupTable, Membership};
use super::index::RuleIndex;
use super::mcp::Operation;
use super::model::RuleRef;
use super::model::{Decision, RequestFacts, Subject};
use super::raw::RawFile;
use super::requestable::Requestable;
use super::route::{self, Route};
use super::rule::Rule;
use super::yaml;

/// A compiled, immutable set of routes.
#[derive(Debug, Default)]
pub struct PolicySet {
    routes: Vec<Arc<Route>>,
    /// Indexes into `routes`, most specific first.
    precedence: Vec<usize>,
    files: Vec<Arc<str>>,
    digest: String,
    /// Every group name the rules mention, resolved to directory ords per state.
    groups: GroupTable,
    /// The `agents:` cap, from whichever file gives it (one at most).
    agents: Option<AgentCap>,
}

/// A route chosen for a request, with the parameters its `match.path` captured.
#[derive(Debug)]
pub struct RouteMatch<'a> {
    pub route: &'a Arc<Route>,
    pub params: Vec<(Arc<str>, String)>,
}

impl PolicySet {
    /// Loads every `*.yaml` / `*.yml` file of `dir` (not its subdirectories), in file
    /// name order. A missing directory is an error; an empty one is an empty set,
    /// under which every request is denied.
    pub fn load_dir(dir: &Path) -> Result<PolicySet, PolicyError> {
        let read_err = |source| PolicyError::Read {
            path: dir.display().to_string(),
            source,
        };
        let mut names: Vec<String> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_err)? {
            let entry = entry.map_err(read_err)?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let policy_file = (name.ends_with(".yaml") || name.ends_with(".yml"))
                && !name.starts_with('.')
                && entry.path().is_file();
            if policy_file {
                names.push(name);
            }
        }
        names.sort();
        let mut sources = Vec::with_capacity(names.len());
        for name in names {
            let path = dir.join(&name);
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Read {
                path: shown.clone(),
                source,
            })?;
            sources.push((shown, text));
        }
        PolicySet::from_sources(&sources)
    }

    /// Compiles `(file name, text)` pairs, in the order given.
    pub fn from_sources(files: &[(String, String)]) -> Result<PolicySet, PolicyError> {
        let mut all_problems: Vec<PolicyError> = Vec::new();
        let mut routes: Vec<Arc<Route>> = Vec::new();
        let mut hasher = Sha256::new();
        let mut groups = GroupTable::default();
        let mut agents: Option<(AgentCap, agents::RouteNames, &str)> = None;
        // Every route name written, compiled or not: a route refused for its own
        // problems is not also "missing" where the agents cap names it.
        let mut declared: Vec<String> = Vec::new();
        for (name, text) in files {
            // The file's own name, not its directory: replicas reading the same
            // policies from different places report the same digest.
            let base = Path::new(name)
                .file_name()
                .map_or(name.as_str(), |b| b.to_str().unwrap_or(name));
            hasher.update((base.len() as u64).to_be_bytes());
            hasher.update(base.as_bytes());
            hasher.update((text.len() as u64).to_be_bytes());
            hasher.update(text.as_bytes());
            let file: Arc<str> = Arc::from(name.as_str());
            let raw = match yaml::parse::<RawFile>(name, text) {
                Ok(raw) => raw,
                Err(e) => {
                    all_problems.push(e);
                    continue;
                }
            };
            let mut problems = Problems::new(name);
            if let Some(raw_agents) = raw.as_ref().and_then(|f| f.agents.as_ref()) {
                match &agents {
                    Some((first, _, _)) => problems.at(
                        yaml::at(raw_agents),
                        format!("`agents` is given twice (also at {})", first.location),
                    ),
                    None => {
                        agents = agents::compile(raw_agents, &mut problems)
                            .map(|(cap, names)| (cap, names, name.as_str()));
                    }
                }
            }
            for raw_route in raw.iter().flat_map(|f| &f.routes) {
                declared.push(raw_route.value.name.value.clone());
                if let Some(mut r) = route::compile(raw_route, &file, &mut problems) {
                    for rule in r.deny.iter_mut().chain(r.allow.iter_mut()) {
                        rule.intern_groups(&mut groups);
                    }
                    if let Some(dbt) = r.dbt.as_mut() {
                        dbt.intern_groups(&mut groups);
                    }
                    routes.push(Arc::new(r));
                }
            }
            all_problems.extend(problems.list);
        }
        all_problems.extend(duplicates(&routes));
        if let Some((_, names, file)) = &agents {
            for (route, at) in names {
                if !declared.iter().any(|d| d == route) {
                    all_problems.push(at_location(
                        file,
                        at,
                        format!("agents.routes: no route is named `{route}`"),
                    ));
                }
            }
        }
        PolicyError::from_list(all_problems)?;
        let mut precedence: Vec<usize> = (0..routes.len()).collect();
        precedence.sort_by_key(|&i| {
            let r = &routes[i];
            (r.host.rank(), std::cmp::Reverse(r.path.literal_count()), i)
        });
        Ok(PolicySet {
            routes,
            precedence,
            files: files.iter().map(|(n, _)| Arc::from(n.as_str())).collect(),
            digest: hex::encode(hasher.finalize()),
            groups,
            agents: agents.map(|(cap, _, _)| cap),
        })
    }

    /// Every route, in file order.
    pub fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }

    /// The route with this name.
    pub fn route(&self, name: &str) -> Option<&Arc<Route>> {
        self.routes.iter().find(|r| &*r.name == name)
    }

    /// The files the set was read from, in order.
    pub fn files(&self) -> &[Arc<str>] {
        &self.files
    }

    /// The route for a request's Host (any case, maybe with `:port`) and normalised path.
    pub fn match_route(&self, host: &str, path: &str) -> Option<RouteMatch<'_>> {
        let route = self
            .precedence
            .iter()
            .map(|&i| &self.routes[i])
            .find(|r| r.host.matches(host) && r.path.matches(path))?;
        let params = route.path.captures(path).unwrap_or_default();
        Some(RouteMatch { route, params })
    }

    /// Decides a request on a matched route: a matching deny rule wins; else the first
    /// matching allow rule; else `default-deny`. Route parameters are read from
    /// `m.params`. The subject must already be known to be an active user.
    pub fn decide(&self, m: &RouteMatch<'_>, req: RequestFacts<'_>, who: &dyn Subject) -> Decision {
        self.decide_mcp(m, req, who, &Operation::Session)
    }

    /// [`PolicySet::decide`] for one JSON-RPC message on a `preset: mcp` route: rules
    /// count only where they cover `op` (see [`super::mcp::McpTargets`]). On other
    /// routes every rule covers [`Operation::Session`], which is what `decide` asks.
    pub fn decide_mcp(
        &self,
        m: &RouteMatch<'_>,
        req: RequestFacts<'_>,
        who: &dyn Subject,
        op: &Operation<'_>,
    ) -> Decision {
        let groups = self.groups.membership(who);
        decide_on(
            m.route,
            &m.params,
            req,
            who,
            &groups,
            self.agents.as_ref(),
            op,
        )
    }

    /// The `agents:` cap, if a file gives one.
    pub fn agent_cap(&self) -> Option<&AgentCap> {
        self.agents.as_ref()
    }

    /// Groups named by allow rules whose method, path and parameter conditions hold
    /// for this request, then groups of dbt-platform grants that cover the operation:
    /// who could be let in (for the 403 page). Never user names. Empty when a deny
    /// rule refuses this request to everyone, or the preset does not know it.
    pub fn allowing_groups(&self, route: &Route, req: RequestFacts<'_>) -> Vec<Arc<str>> {
        let preset = route.dbt_platform().map(|policy| {
            (
                policy,
                dbt::classify(req.method, route.preset_path(req.path)),
            )
        });
        if let Some((_, None)) = preset {
            // An operation the preset does not know is refused to everyone.
            return Vec::new();
        }
        let params = route.path.captures(req.path).unwrap_or_default();
        let denied_to_all = route.preset_refusal(req).is_some()
            || route
                .deny
                .iter()
                .any(|r| !r.names_who() && r.request_matches(&params, req));
        if denied_to_all {
            return Vec::new();
        }
        let mut out: Vec<Arc<str>> = Vec::new();
        for rule in route
            .allow
            .iter()
            .filter(|r| r.request_matches(&params, req))
        {
            for g in rule.group_names.iter() {
                if !out.iter().any(|o| crate::ident::same(o, g)) {
                    out.push(g.clone());
                }
            }
        }
        if let Some((policy, Some(m))) = preset {
            for g in policy.allowing_groups(&m) {
                if !out.iter().any(|o| crate::ident::same(o, g)) {
                    out.push(g.clone());
                }
            }
        }
        out
    }

    /// The requestable grants of `route` whose group would allow this request: what
    /// the 403 page and `policy explain` offer to ask for.
    pub fn requestable_for<'r>(
        &self,
        route: &'r Route,
        req: RequestFacts<'_>,
    ) -> Vec<&'r Requestable> {
        let allowing = self.allowing_groups(route, req);
        route
            .requestable()
            .iter()
            .filter(|q| allowing.iter().any(|g| crate::ident::same(g, &q.group)))
            .collect()
    }

    /// The requestable grant of `group` on the route named `route`.
    pub fn requestable(&self, route: &str, group: &str) -> Option<&Requestable> {
        self.route(route)?
            .requestable()
            .iter()
            .find(|q| crate::ident::same(&q.group, group))
    }

    /// Every group any rule names (as first written), sorted, without duplicates.
    pub fn referenced_groups(&self) -> Vec<Arc<str>> {
        let mut out: Vec<Arc<str>> = self
            .group_references()
            .into_iter()
            .map(|(g, _)| g)
            .collect();
        out.sort_by_cached_key(|g| crate::ident::caseless_key(g));
        out
    }

    /// Every group any rule names, with the `file:line` of its first mention.
    pub fn group_references(&self) -> Vec<(Arc<str>, Arc<str>)> {
        let mut out: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        let rules = self
            .routes
            .iter()
            .flat_map(|r| r.rules())
            .flat_map(|rule| rule.group_names.iter().map(|g| (g, &rule.by.location)));
        let grants = self
            .routes
            .iter()
            .filter_map(|r| r.dbt_platform())
            .flat_map(|d| d.grants.iter().map(|g| (&g.group, &g.by.location)));
        let requests = self
            .routes
            .iter()
            .flat_map(|r| r.requestable())
            .flat_map(|q| {
                q.requesters
                    .iter()
                    .chain(q.approvers.iter())
                    .map(|g| (g, &q.location))
            });
        for (g, location) in rules.chain(grants).chain(requests) {
            if !out.iter().any(|(o, _)| crate::ident::same(o, g)) {
                out.push((g.clone(), location.clone()));
            }
        }
        out
    }

    /// SHA-256 (hex) of the source files (base names and texts, in order), for status
    /// and audit.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// The decision on `route`: a dbt-docs route's refusal of paths outside the docs UI;
/// deny rules; on a dbt-platform route an unknown operation; the agent cap; allow
/// rules; on a dbt-platform route the grants; else default deny.
/// The rules of `rules` that `index` says `req` may match, in order.
fn candidates<'r>(
    rules: &'r [Rule],
    index: &'r RuleIndex,
    req: RequestFacts<'_>,
) -> impl Iterator<Item = &'r Rule> {
    index
        .candidates(req.method, req.path)
        .iter()
        .filter_map(|i| rules.get(*i as usize))
}

fn decide_on(
    route: &Route,
    route_params: &[(Arc<str>, String)],
    req: RequestFacts<'_>,
    who: &dyn Subject,
    groups: &Membership<'_>,
    agents: Option<&AgentCap>,
    op: &Operation<'_>,
) -> Decision {
    let decision = |allow: bool, by: &RuleRef| Decision {
        allow,
        by: by.clone(),
    };
    if let Some(refusal) = route.preset_refusal(req) {
        return Decision {
            allow: false,
            by: refusal.clone(),
        };
    }
    if let Some(rule) = candidates(&route.deny, &route.deny_index, req).find(|r| {
        // The group test first: most rules of a large route are for other groups.
        r.groups_may_match(groups) && r.covers(op) && r.matches(route_params, req, who, groups)
    }) {
        return decision(false, &rule.by);
    }
    let preset = match route.dbt_platform() {
        None => None,
        Some(policy) => {
            let path = route.preset_path(req.path);
            let Some(m) = dbt::classify(req.method, path) else {
                tracing::warn!(
                    route = %route.name,
                    method = %req.method,
                    path,
                    "dbt-platform: unknown operation denied"
                );
                return route.deny_by(dbt::UNKNOWN_OPERATION);
            };
            Some((policy, m))
        }
    };
    if let Some(cap) = agents {
        let read = match (&preset, route.preset) {
            (Some((_, m)), _) => m.op.access == dbt::Access::Read,
            // The transport's POST, GET and DELETE only carry messages; each message
            // is judged on its own.
            (None, Some(super::Preset::Mcp)) => match op {
                Operation::Tool(name) => route.read_only_tools.iter().any(|p| p.matches(name)),
                _ => true,
            },
            (None, _) => matches!(*req.method, http::Method::GET | http::Method::HEAD),
        };
        if let Some(rule) = cap.refuses(&route.name, read, who) {
            return decision(false, &cap.rule_ref(&route.name, rule));
        }
    }
    if let Some(rule) = candidates(&route.allow, &route.allow_index, req).find(|r| {
        // The group test first: most rules of a large route are for other groups.
        r.groups_may_match(groups) && r.covers(op) && r.matches(route_params, req, who, groups)
    }) {
        return decision(true, &rule.by);
    }
    if let Some(by) = preset.and_then(|(policy, m)| policy.granting(&m, who, groups)) {
        return decision(true, by);
    }
    decision(false, &route.default_deny)
}

/// Two routes with one name, or with one host and path pattern.
fn duplicates(routes: &[Arc<Route>]) -> Vec<PolicyError> {
    let mut out = Vec::new();
    for (i, later) in routes.iter().enumerate() {
        let at = |reason: String| PolicyError::At {
            file: later.file.to_string(),
            line: later.line,
            column: later.column,
            reason,
        };
        if let Some(first) = routes[..i].iter().find(|r| r.name == later.name) {
            out.push(at(format!(
                "duplicate route name `{}` (also at {})",
                later.name, first.location
            )));
        }
        if let Some(first) = routes[..i]
            .iter()
            .find(|r| r.host == later.host && r.path == later.path)
        {
            out.push(at(format!(
                "routes `{}` ({}) and `{}` match the same host `{}` and path `{}`",
                first.name,
                first.location,
                later.name,
                later.host,
                later.path.as_str()
            )));
        }
    }
    out
}
