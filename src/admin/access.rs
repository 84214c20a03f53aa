//! One user's access explained across every route: for each route, each method on the
//! route's own path, the decision the policy makes now and the rule that made it.
//!
//! Decisions come from [`PolicySet::decide`] on the live directory (the same call the
//! gate makes), on a representative path of the route: its literal prefix (`/finance/`
//! for `/finance/**`, `/` for `/**`). A route whose pattern starts with a parameter
//! has no such path; it is listed as "depends on the path". On a dbt-platform route
//! the answer depends on the API operation, so the grants that apply to the user are
//! listed as well.

use std::sync::Arc;

use http::Method;
use serde::Serialize;

use crate::directory::Directory;
use crate::policy::{
    DirectorySubject, PolicySet, RequestFacts, Route, RouteMatch, Subject, INACTIVE_USER,
};
use crate::record::UserRecord;

/// The methods every route is judged for.
pub const METHODS: [Method; 6] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// One method's decision on a route.
#[derive(Debug, Clone, Serialize)]
pub struct MethodAccess {
    pub method: String,
    pub allow: bool,
    /// The deciding rule (`allow[0]`, a rule's name, `default-deny`, ...).
    pub rule: String,
    /// `file:line` of that rule (file name only).
    pub location: String,
}

/// A route as one user may use it.
#[derive(Debug, Clone, Serialize)]
pub struct RouteAccess {
    pub route: String,
    pub host: String,
    /// `match.path` as written.
    pub pattern: String,
    /// The path the methods were judged on; `None`: it depends on the path.
    pub path: Option<String>,
    pub methods: Vec<MethodAccess>,
    /// dbt-platform grants whose group the user is in (`grant[0]:<group>:<set>`).
    pub grants: Vec<String>,
}

impl RouteAccess {
    /// The methods allowed.
    pub fn allowed(&self) -> Vec<&str> {
        self.methods
            .iter()
            .filter(|m| m.allow)
            .map(|m| m.method.as_str())
            .collect()
    }
}

/// `user`'s access to every route of `set`, in file order.
pub fn explain_all(
    set: &PolicySet,
    dir: &Arc<Directory>,
    user: &Arc<UserRecord>,
) -> Vec<RouteAccess> {
    let subject = DirectorySubject::new(dir, user.clone());
    set.routes()
        .iter()
        .map(|route| explain_route(set, route, &subject, user.active))
        .collect()
}

fn explain_route(
    set: &PolicySet,
    route: &Arc<Route>,
    subject: &DirectorySubject,
    active: bool,
) -> RouteAccess {
    let path = representative_path(route);
    let methods = match &path {
        None => Vec::new(),
        Some(path) => {
            let m = RouteMatch {
                route,
                params: route.path_pattern().captures(path).unwrap_or_default(),
            };
            METHODS
                .iter()
                .map(|method| {
                    let decision = if active {
                        set.decide(&m, RequestFacts { method, path }, subject)
                    } else {
                        route.deny_by(INACTIVE_USER)
                    };
                    MethodAccess {
                        method: method.to_string(),
                        allow: decision.allow,
                        rule: decision.by.rule.to_string(),
                        location: crate::gate::pages::public_location(&decision.by.location)
                            .to_owned(),
                    }
                })
                .collect()
        }
    };
    let grants = route
        .dbt_platform()
        .map(|p| {
            p.grants
                .iter()
                .filter(|g| active && subject.in_group(&g.group))
                .map(|g| g.by.rule.to_string())
                .collect()
        })
        .unwrap_or_default();
    RouteAccess {
        route: route.name.to_string(),
        host: route.host_pattern().to_string(),
        pattern: route.path_pattern().as_str().to_owned(),
        path,
        methods,
        grants,
    }
}

/// The route's literal prefix as a path the route matches (with a trailing slash
/// first, as a browser would open a section), if there is one.
fn representative_path(route: &Route) -> Option<String> {
    let pattern = route.path_pattern();
    let prefix = pattern.literal_prefix().join("/");
    let bare = format!("/{prefix}");
    let slashed = if prefix.is_empty() {
        bare.clone()
    } else {
        format!("{bare}/")
    };
    // A trailing slash is the same resource to the matcher: show it only for a route
    // that has paths below the prefix.
    let below = format!("{slashed}x");
    if prefix.is_empty() || !pattern.matches(&below) {
        return Some(bare).filter(|p| pattern.matches(p));
    }
    [slashed, bare].into_iter().find(|p| pattern.matches(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(yaml: &str) -> PolicySet {
        PolicySet::from_sources(&[("p.yaml".to_owned(), yaml.to_owned())]).unwrap()
    }

    #[test]
    fn representative_paths_follow_the_literal_prefix() {
        let s = set("routes:
  - name: all
    match: { path: /** }
    upstream: http://127.0.0.1:1
  - name: fin
    match: { path: /finance/** }
    upstream: http://127.0.0.1:1
  - name: exact
    match: { path: /api/status }
    upstream: http://127.0.0.1:1
  - name: param
    match: { path: '/{project}/docs/**' }
    upstream: http://127.0.0.1:1
");
        let paths: Vec<Option<String>> =
            s.routes().iter().map(|r| representative_path(r)).collect();
        assert_eq!(
            paths,
            vec![
                Some("/".to_owned()),
                Some("/finance/".to_owned()),
                Some("/api/status".to_owned()),
                None
            ]
        );
    }

    #[test]
    fn decisions_follow_groups_and_name_the_rule() {
        let s = set("routes:
  - name: docs
    match: { path: /docs/** }
    upstream: http://127.0.0.1:1
    allow:
      - { name: readers, groups: [analysts], methods: [GET, HEAD] }
    deny:
      - { name: no-interns, groups: [interns] }
");
        let dir = Arc::new(crate::admin::testing::directory(&[
            ("alice", &["analysts"]),
            ("ivan", &["analysts", "interns"]),
            ("bob", &[]),
        ]));
        let get = |name: &str| {
            let user = dir.user_by_name(name).unwrap();
            explain_all(&s, &dir, &user).remove(0)
        };
        let alice = get("alice");
        assert_eq!(alice.path.as_deref(), Some("/docs/"));
        assert_eq!(alice.allowed(), vec!["GET", "HEAD"]);
        let post = alice.methods.iter().find(|m| m.method == "POST").unwrap();
        assert_eq!(post.rule, "default-deny");
        let ivan = get("ivan");
        assert!(ivan.allowed().is_empty());
        assert!(ivan.methods.iter().all(|m| m.rule == "no-interns"));
        assert!(ivan.methods[0].location.starts_with("p.yaml:"));
        assert!(get("bob").allowed().is_empty());
    }
}
