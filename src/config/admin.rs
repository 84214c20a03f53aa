//! The `admin:` section: who may use the admin UI, and on which origin.
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

use super::error::{Checker, ConfigError};
use super::origin::{origin_of, parse_origin};

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

    /// The only origin the admin UI answers on: `admin.origin`, else the origin of
    /// `public_url`; `None`: any.
    pub fn answering_origin(&self, public_url: Option<&str>) -> Option<String> {
        self.origin.clone().or_else(|| public_url.map(origin_of))
    }
}

impl RawAdminConfig {
    /// Checks the section.
    pub fn validate(self, check: Checker<'_>) -> Result<AdminConfig, ConfigError> {
        let mut groups: Vec<String> = Vec::new();
        for g in self.groups {
            let name = g.trim();
            if name.is_empty() {
                return Err(check.invalid("admin.groups", "a group name is empty"));
            }
            if !groups.iter().any(|o| o.eq_ignore_ascii_case(name)) {
                groups.push(name.to_owned());
            }
        }
        let origin = self
            .origin
            .map(|o| parse_origin(&o).map_err(|reason| check.invalid("admin.origin", reason)))
            .transpose()?;
        Ok(AdminConfig {
            groups,
            origin,
            allow_shared_origin: self.allow_shared_origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_kept_once_and_empty_names_refused() {
        let check = Checker::new("c.yaml");
        let raw = RawAdminConfig {
            groups: vec!["Admins".into(), "admins".into(), "ops".into()],
            origin: Some("https://Admin.Example.com/".into()),
            allow_shared_origin: false,
        };
        let cfg = raw.validate(check).unwrap();
        assert_eq!(cfg.groups, vec!["Admins", "ops"]);
        assert_eq!(cfg.origin.as_deref(), Some("https://admin.example.com"));
        assert!(cfg.enabled());
        let err = RawAdminConfig {
            groups: vec![" ".into()],
            ..Default::default()
        }
        .validate(check)
        .unwrap_err();
        assert!(err.to_string().contains("admin.groups"), "{err}");
        assert!(!AdminConfig::default().enabled());
        let err = RawAdminConfig {
            groups: vec!["a".into()],
            origin: Some("https://admin.example.com/path".into()),
            allow_shared_origin: false,
        }
        .validate(check)
        .unwrap_err();
        assert!(err.to_string().contains("admin.origin"), "{err}");
    }

    #[test]
    fn the_admin_origin_defaults_to_the_public_urls() {
        let admin = AdminConfig::default();
        assert_eq!(
            admin.answering_origin(Some("https://Gate.example.com/base")),
            Some("https://gate.example.com".to_owned())
        );
        assert_eq!(admin.answering_origin(None), None);
    }
}
