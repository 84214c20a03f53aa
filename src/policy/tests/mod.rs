//! Tests of the policy engine as a whole: parsing, validation positions, routing,
//! decisions, reload and watch, the directory subject, and the CLI functions.
//! (Path patterns, hosts, single values and written requests are tested beside
//! their code.)

mod cli;
mod dbt_platform;
mod dbt_sets;
mod decide;
mod docs_preset;
mod index;
mod mcp;
mod parse;
mod reload;
mod requestable;
mod routing;
mod subject;
mod validation;

use http::Method;

use super::model::{RequestFacts, Subject};
use super::{Decision, PolicySet};

/// The file name test sources are given.
pub(super) const FILE: &str = "policies/t.yaml";

/// A set compiled from one file's text; panics with the problems if refused.
pub(super) fn set(yaml: &str) -> PolicySet {
    match PolicySet::from_sources(&[(FILE.to_owned(), yaml.to_owned())]) {
        Ok(s) => s,
        Err(e) => panic!("policy refused:\n{e}"),
    }
}

/// The problems of a refused file, one per line.
pub(super) fn refused(yaml: &str) -> String {
    match PolicySet::from_sources(&[(FILE.to_owned(), yaml.to_owned())]) {
        Ok(_) => panic!("policy accepted:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

/// A hand-made subject.
#[derive(Debug, Default)]
pub(super) struct Who {
    pub name: &'static str,
    pub groups: Vec<&'static str>,
    pub license: Option<&'static str>,
    pub user_type: Option<&'static str>,
    pub external_id: Option<&'static str>,
}

impl Who {
    pub fn named(name: &'static str, groups: &[&'static str]) -> Self {
        Who {
            name,
            groups: groups.to_vec(),
            ..Who::default()
        }
    }
}

impl Subject for Who {
    fn id(&self) -> &str {
        self.name
    }
    fn user_name(&self) -> &str {
        self.name
    }
    fn emails(&self) -> &[Box<str>] {
        &[]
    }
    fn license(&self) -> Option<&str> {
        self.license
    }
    fn user_type(&self) -> Option<&str> {
        self.user_type
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id
    }
    fn in_group(&self, display_name: &str) -> bool {
        self.groups
            .iter()
            .any(|g| g.eq_ignore_ascii_case(display_name))
    }
}

/// Routes and decides `method host path` for `who`; `None` when no route matches.
pub(super) fn decide(
    set: &PolicySet,
    method: Method,
    host: &str,
    path: &str,
    who: &Who,
) -> Option<Decision> {
    let m = set.match_route(host, path)?;
    Some(set.decide(
        &m,
        RequestFacts {
            method: &method,
            path,
        },
        who,
    ))
}

/// The groups the 403 page would name for `method path` on the route called `route`.
pub(super) fn allowing(set: &PolicySet, route: &str, method: Method, path: &str) -> Vec<String> {
    let route = set.route(route).expect("route");
    set.allowing_groups(
        route,
        RequestFacts {
            method: &method,
            path,
        },
    )
    .iter()
    .map(|g| g.to_string())
    .collect()
}

/// `"allow by <rule>"` / `"deny by <rule>"`, or `"no route"`.
pub(super) fn verdict(
    set: &PolicySet,
    method: Method,
    host: &str,
    path: &str,
    who: &Who,
) -> String {
    match decide(set, method, host, path, who) {
        None => "no route".to_owned(),
        Some(d) => format!(
            "{} by {}",
            if d.allow { "allow" } else { "deny" },
            d.by.rule
        ),
    }
}
