//! The `admin:` section of the configuration: who may use the admin UI.
//!
//! `admin: { groups: [scimgate-admins] }` names directory groups (displayName, any
//! case) whose members, directly or through nesting, may use `/.scimgate/admin/`.
//! Membership is read from the live directory on every request. Without the section
//! (or with no groups) the admin UI is off and answers 404.
//!
//! `admin.origin` (`https://admin.example.com`; default: `public_url`'s origin) is the
//! only origin the admin UI answers on: elsewhere it is a 404, so a script on a page an
//! upstream serves cannot read it. Without either, it answers on any Host. An origin
//! whose host a route also serves (`match.host`, or a route without one) is refused the
//! admin UI unless `admin.allow_shared_origin: true` accepts that risk.

use serde::Deserialize;

use crate::config::ConfigError;

/// `admin:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdminConfig {
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    allow_shared_origin: bool,
}

/// The validated `admin:` section.
#[derive(Debug, Clone, Default)]
pub struct AdminConfig {
    /// displayNames of the admin groups; empty: the admin UI is off.
    pub groups: Vec<String>,
    /// `scheme://host[:port]` the admin UI answers on (`admin.origin`); `None`: the
    /// public URL's origin, else any.
    pub origin: Option<String>,
    /// Serve the admin UI even on an origin that routes also serve.
    pub allow_shared_origin: bool,
}

impl AdminConfig {
    /// Whether the admin UI is on.
    pub fn enabled(&self) -> bool {
        !self.groups.is_empty()
    }
}

impl RawAdminConfig {
    /// Checks the section; `file` names the config file in errors.
    pub fn validate(self, file: &str) -> Result<AdminConfig, ConfigError> {
        let mut groups: Vec<String> = Vec::new();
        for g in self.groups {
            let name = g.trim();
            if name.is_empty() {
                return Err(ConfigError::Invalid {
                    file: file.to_owned(),
                    key: "admin.groups",
                    reason: "a group name is empty".to_owned(),
                });
            }
            if !groups.iter().any(|o| o.eq_ignore_ascii_case(name)) {
                groups.push(name.to_owned());
            }
        }
        let origin = match self.origin {
            Some(o) => Some(parse_origin(&o).map_err(|reason| ConfigError::Invalid {
                file: file.to_owned(),
                key: "admin.origin",
                reason,
            })?),
            None => None,
        };
        Ok(AdminConfig {
            groups,
            origin,
            allow_shared_origin: self.allow_shared_origin,
        })
    }
}

/// `scheme://authority` of an http(s) URL, lower-cased; a path, query or user part is
/// refused (an origin has none).
pub fn parse_origin(text: &str) -> Result<String, String> {
    let t = text.trim().trim_end_matches('/');
    let lower = t.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} is not an http(s) origin"))?;
    let valid = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !valid {
        return Err(format!(
            "{text:?}: an origin is scheme://host[:port], without a path"
        ));
    }
    Ok(lower)
}

/// The origin (`scheme://authority`) of a URL that may carry a path.
pub fn origin_of(url: &str) -> String {
    let url = url.trim_end_matches('/');
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[after_scheme..]
        .find('/')
        .map(|i| i + after_scheme)
        .unwrap_or(url.len());
    url[..end].to_ascii_lowercase()
}

/// Whether a request's `Host` names the authority of `origin` (a default port may be
/// written or left out).
pub fn host_is_origin(host: &str, origin: &str) -> bool {
    let (scheme, authority) = origin.split_once("://").unwrap_or(("http", origin));
    let default = if scheme == "https" { ":443" } else { ":80" };
    let strip = |a: &str| -> String {
        let a = a.trim().to_ascii_lowercase();
        a.strip_suffix(default).map(str::to_owned).unwrap_or(a)
    };
    !host.trim().is_empty() && strip(host) == strip(authority)
}

/// What `policy check` and the server say when the admin UI would be refused on its
/// own origin because a route also serves it; `None` when there is nothing to say.
pub fn shared_origin_warning(
    admin: &AdminConfig,
    public_url: Option<&str>,
    set: &crate::policy::PolicySet,
) -> Option<String> {
    if !admin.enabled() || admin.allow_shared_origin {
        return None;
    }
    let origin = admin.origin.clone().or_else(|| public_url.map(origin_of));
    let Some(origin) = origin else {
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
    fn groups_are_kept_once_and_empty_names_refused() {
        let raw = RawAdminConfig {
            groups: vec!["Admins".into(), "admins".into(), "ops".into()],
            origin: Some("https://Admin.Example.com/".into()),
            allow_shared_origin: false,
        };
        let cfg = raw.validate("c.yaml").unwrap();
        assert_eq!(cfg.groups, vec!["Admins", "ops"]);
        assert_eq!(cfg.origin.as_deref(), Some("https://admin.example.com"));
        assert!(cfg.enabled());
        let err = RawAdminConfig {
            groups: vec![" ".into()],
            ..Default::default()
        }
        .validate("c.yaml")
        .unwrap_err();
        assert!(err.to_string().contains("admin.groups"), "{err}");
        assert!(!AdminConfig::default().enabled());
        let err = RawAdminConfig {
            groups: vec!["a".into()],
            origin: Some("https://admin.example.com/path".into()),
            allow_shared_origin: false,
        }
        .validate("c.yaml")
        .unwrap_err();
        assert!(err.to_string().contains("admin.origin"), "{err}");
    }

    #[test]
    fn a_route_on_the_admin_origin_is_warned_about() {
        let set = crate::policy::PolicySet::from_sources(&[(
            "p.yaml".to_owned(),
            "routes:\n  - name: docs\n    match: { host: docs.example.com }\n    upstream: http://127.0.0.1:1\n".to_owned(),
        )])
        .unwrap();
        let admin = |origin: &str, shared: bool| AdminConfig {
            groups: vec!["admins".into()],
            origin: Some(origin.into()),
            allow_shared_origin: shared,
        };
        let w = shared_origin_warning(&admin("https://docs.example.com", false), None, &set);
        assert!(w.is_some_and(|w| w.contains("route `docs`")));
        assert!(
            shared_origin_warning(&admin("https://docs.example.com", true), None, &set).is_none()
        );
        assert!(
            shared_origin_warning(&admin("https://admin.example.com", false), None, &set).is_none()
        );
        assert!(shared_origin_warning(&AdminConfig::default(), None, &set).is_none());
    }

    #[test]
    fn hosts_match_origins_with_or_without_default_ports() {
        assert!(host_is_origin(
            "Admin.example.com",
            "https://admin.example.com"
        ));
        assert!(host_is_origin(
            "admin.example.com:443",
            "https://admin.example.com"
        ));
        assert!(!host_is_origin(
            "admin.example.com:8443",
            "https://admin.example.com"
        ));
        assert!(host_is_origin("127.0.0.1:8080", "http://127.0.0.1:8080"));
        assert!(!host_is_origin(
            "docs.example.com",
            "https://admin.example.com"
        ));
        assert!(!host_is_origin("", "https://admin.example.com"));
        assert_eq!(
            origin_of("https://Gate.example.com/base/"),
            "https://gate.example.com"
        );
    }
}
