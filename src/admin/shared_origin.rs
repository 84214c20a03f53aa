//! The warning `policy check` and the server give when the admin UI would be refused on
//! its own origin because a route also serves it (see [`crate::config::admin`]).

use crate::config::admin::AdminConfig;
use crate::policy::PolicySet;

/// What to say when the admin origin is also a route's; `None` when there is nothing
/// to say.
pub fn warning(admin: &AdminConfig, public_url: Option<&str>, set: &PolicySet) -> Option<String> {
    if !admin.enabled() || admin.allow_shared_origin {
        return None;
    }
    let Some(origin) = admin.answering_origin(public_url) else {
        return Some(
            "warning: neither admin.origin nor public_url is set: the admin UI answers on any \
             Host that no route serves"
                .to_owned(),
        );
    };
    let authority = origin.split_once("://").map_or(origin.as_str(), |(_, a)| a);
    let route = set
        .routes()
        .iter()
        .find(|r| r.host_pattern().matches(authority))?;
    Some(format!(
        "warning: the admin origin {origin} is also served by route `{}` ({}): the admin UI \
         refuses to answer there; set admin.origin to a host no route serves, or \
         admin.allow_shared_origin: true",
        route.name, route.location
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_on_the_admin_origin_is_warned_about() {
        let set = PolicySet::from_sources(&[(
            "p.yaml".to_owned(),
            "routes:\n  - name: docs\n    match: { host: docs.example.com }\n    upstream: http://127.0.0.1:1\n".to_owned(),
        )])
        .unwrap();
        let admin = |origin: &str, shared: bool| AdminConfig {
            groups: vec!["admins".into()],
            origin: Some(origin.into()),
            allow_shared_origin: shared,
        };
        let w = warning(&admin("https://docs.example.com", false), None, &set);
        assert!(w.is_some_and(|w| w.contains("route `docs`")));
        assert!(warning(&admin("https://docs.example.com", true), None, &set).is_none());
        assert!(warning(&admin("https://admin.example.com", false), None, &set).is_none());
        assert!(warning(&AdminConfig::default(), None, &set).is_none());
        let any = AdminConfig {
            groups: vec!["admins".into()],
            ..AdminConfig::default()
        };
        assert!(warning(&any, None, &set).is_some_and(|w| w.contains("any Host")));
    }
}
