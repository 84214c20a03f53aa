//! The `admin:` section of the configuration: who may use the admin UI.
//!
//! `admin: { groups: [scimgate-admins] }` names directory groups (displayName, any
//! case) whose members, directly or through nesting, may use `/.scimgate/admin/`.
//! Membership is read from the live directory on every request. Without the section
//! (or with no groups) the admin UI is off and answers 404.

use serde::Deserialize;

use crate::config::ConfigError;

/// `admin:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdminConfig {
    #[serde(default)]
    groups: Vec<String>,
}

/// The validated `admin:` section.
#[derive(Debug, Clone, Default)]
pub struct AdminConfig {
    /// displayNames of the admin groups; empty: the admin UI is off.
    pub groups: Vec<String>,
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
        Ok(AdminConfig { groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_kept_once_and_empty_names_refused() {
        let raw = RawAdminConfig {
            groups: vec!["Admins".into(), "admins".into(), "ops".into()],
        };
        let cfg = raw.validate("c.yaml").unwrap();
        assert_eq!(cfg.groups, vec!["Admins", "ops"]);
        assert!(cfg.enabled());
        let err = RawAdminConfig {
            groups: vec![" ".into()],
        }
        .validate("c.yaml")
        .unwrap_err();
        assert!(err.to_string().contains("admin.groups"), "{err}");
        assert!(!AdminConfig::default().enabled());
    }
}
