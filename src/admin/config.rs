//! The `admin:` section of the configuration: who may use the admin UI.

use serde::Deserialize;

use crate::config::ConfigError;

/// `admin:` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdminConfig {}

/// The validated `admin:` section.
#[derive(Debug, Clone, Default)]
pub struct AdminConfig {}

impl RawAdminConfig {
    /// Checks the section; `file` names the config file in errors.
    pub fn validate(self, _file: &str) -> Result<AdminConfig, ConfigError> {
        Ok(AdminConfig {})
    }
}
