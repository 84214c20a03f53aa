//! The cap on agent and service accounts: `agents: { user_types, access, routes }`.
//!
//! SCIM users whose `userType` is one of `user_types` (any case) never exceed the cap,
//! whatever their groups: with `access: read-only` they only read (GET and HEAD, or
//! on a preset route the operations the preset classifies as reads), and with
//! `routes:` they reach only the routes listed. The cap is checked on every route
//! after its deny rules and before anything that could allow; its denials are
//! reported as `agent-cap:read-only` and `agent-cap:routes`.

use std::sync::Arc;

use serde_saphyr::{Location, Spanned};

use super::error::{file_line, Problems};
use super::model::{RuleRef, Subject};
use super::raw::RawAgents;
use super::rule::eq_lower;
use super::yaml::at;

/// The rule of a denial because an agent may only read.
pub const AGENT_CAP_READ_ONLY: &str = "agent-cap:read-only";
/// The rule of a denial because an agent may not use this route.
pub const AGENT_CAP_ROUTES: &str = "agent-cap:routes";

/// A compiled `agents:` cap.
#[derive(Debug)]
pub struct AgentCap {
    /// Lower-cased `userType` values that are capped.
    user_types: Box<[Box<str>]>,
    read_only: bool,
    /// `None`: every route.
    routes: Option<Box<[Arc<str>]>>,
    /// `file:line` of the `agents:` key.
    pub location: Arc<str>,
}

/// Route names an `agents.routes` list gives, with their positions (checked once
/// every route is known).
pub(crate) type RouteNames = Vec<(String, Location)>;

impl AgentCap {
    /// Whether `who` is an agent or service account under this cap.
    pub fn caps(&self, who: &dyn Subject) -> bool {
        who.user_type()
            .is_some_and(|t| self.user_types.iter().any(|u| eq_lower(t.trim(), u)))
    }

    /// The rule that refuses `who` this request, if the cap does. `read` says whether
    /// the request only reads.
    pub fn refuses(&self, route: &str, read: bool, who: &dyn Subject) -> Option<&'static str> {
        if !self.caps(who) {
            return None;
        }
        if let Some(routes) = &self.routes {
            if !routes.iter().any(|r| &**r == route) {
                return Some(AGENT_CAP_ROUTES);
            }
        }
        if self.read_only && !read {
            return Some(AGENT_CAP_READ_ONLY);
        }
        None
    }

    /// A decision reference for a denial by `rule` on `route`.
    pub fn rule_ref(&self, route: &Arc<str>, rule: &str) -> RuleRef {
        RuleRef {
            route: route.clone(),
            rule: Arc::from(rule),
            location: self.location.clone(),
        }
    }
}

/// Compiles `agents:`; the route names to check come back beside the cap.
pub(crate) fn compile(
    raw: &Spanned<RawAgents>,
    problems: &mut Problems<'_>,
) -> Option<(AgentCap, RouteNames)> {
    let before = problems.list.len();
    let a = &raw.value;
    if a.user_types.value.is_empty() {
        problems.at(
            at(&a.user_types),
            "`user_types: []` caps no one; list at least one",
        );
    }
    for t in &a.user_types.value {
        if t.value.trim().is_empty() {
            problems.at(at(t), "an empty user type");
        }
    }
    let read_only = match &a.access {
        None => false,
        Some(s) if s.value == "read-only" => true,
        Some(s) if s.value == "full" => false,
        Some(s) => {
            problems.at(
                at(s),
                format!("unknown access `{}` (one of: read-only, full)", s.value),
            );
            false
        }
    };
    let mut names = Vec::new();
    if let Some(list) = &a.routes {
        if list.value.is_empty() {
            problems.at(
                at(list),
                "`routes: []` would shut agents out of every route; list routes or remove the key",
            );
        }
        for r in &list.value {
            names.push((r.value.clone(), *at(r)));
        }
    }
    if problems.list.len() > before {
        return None;
    }
    let cap = AgentCap {
        user_types: a
            .user_types
            .value
            .iter()
            .map(|t| crate::ident::caseless_key(t.value.trim()).into())
            .collect(),
        read_only,
        routes: a.routes.as_ref().map(|l| {
            l.value
                .iter()
                .map(|r| Arc::from(r.value.as_str()))
                .collect()
        }),
        location: Arc::from(file_line(problems.file, at(raw))),
    };
    Some((cap, names))
}
